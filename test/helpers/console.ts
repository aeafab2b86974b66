/**
 * A real schoolgate with its web console on an ephemeral loopback port, accounts in its state database, and
 * an HTTPS client (with a cookie jar) that trusts the school CA the console's certificate chains to.
 */
import { readFileSync } from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import type { RunningSchoolgate } from '../../src/app/start.js';
import { openCase } from '../../src/audit/cases.js';
import { listAccess, type StoredAccessEntry } from '../../src/audit/report-access.js';
import type { ReadonlyConfig } from '../../src/config/load.js';
import type { ConfigInput } from '../../src/config/schema.js';
import { ConsoleAccounts } from '../../src/console/accounts.js';
import { totpCode } from '../../src/console/totp.js';
import { openAdmin } from '../../src/reports/run.js';
import { openStateDatabase } from '../../src/state/database.js';
import { CA_CERT_FILE } from '../../src/tls/ca.js';
import { hiddenFields } from './page-forms.js';
import { startTestProxy, testConfig } from './schoolgate.js';

export const PASSWORD = 'correct horse battery staple';

export interface ConsoleRig {
  config: ReadonlyConfig;
  proxy: RunningSchoolgate;
  url: string;
  caPem: string;
  /** TOTP secret per account name (null for technicians). */
  secrets: Map<string, string | null>;
}

export async function startConsoleRig(
  accounts: Record<string, string>,
  input: Partial<ConfigInput> = {},
  /** Runs before the proxy starts (e.g. a category of the test's own in config.categoriesDir). */
  before?: (config: ReadonlyConfig) => void,
): Promise<ConsoleRig> {
  const config = testConfig({
    ...input,
    // Many sign-ins from one address in a test: the per-address limit has its own test.
    console: { enabled: true, port: 0, host: '127.0.0.1', signInsPerMinute: 1000, ...input.console },
  });
  before?.(config);
  const db = openStateDatabase(config.dataDir);
  const secrets = new Map<string, string | null>();
  try {
    const store = new ConsoleAccounts(db);
    for (const [name, role] of Object.entries(accounts))
      secrets.set(name, await store.add(name, role, PASSWORD));
  } finally {
    db.close();
  }
  const proxy = await startTestProxy(config);
  if (!proxy.console) throw new Error('the console did not start');
  const caPem = readFileSync(path.join(config.tls.certsDir, CA_CERT_FILE), 'utf8');
  return { config, proxy, url: proxy.console.url, caPem, secrets };
}

export interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One person's browser, minus the browser: cookies kept, the school CA trusted, nothing else. */
export class ConsoleClient {
  readonly cookies = new Map<string, string>();
  constructor(
    private readonly rig: ConsoleRig,
    private readonly origin = rig.url.replace(/\/$/, ''),
  ) {}

  request(
    method: string,
    pathAndQuery: string,
    form?: Record<string, string>,
    headers: Record<string, string> = {},
  ): Promise<Answer> {
    const body = form ? new URLSearchParams(form).toString() : undefined;
    const cookie = [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    return new Promise((resolve, reject) => {
      const req = https.request(
        `${this.origin}${pathAndQuery}`,
        {
          method,
          ca: this.rig.caPem,
          servername: 'localhost',
          headers: {
            ...(cookie ? { cookie } : {}),
            ...(body ? { 'content-type': 'application/x-www-form-urlencoded' } : {}),
            ...headers,
          },
        },
        (res) => {
          for (const c of ([] as string[]).concat(res.headers['set-cookie'] ?? [])) {
            const [pair] = c.split(';');
            const eq = pair!.indexOf('=');
            const name = pair!.slice(0, eq);
            const value = pair!.slice(eq + 1);
            if (value === '' || /expires=Thu, 01 Jan 1970/i.test(c)) this.cookies.delete(name);
            else this.cookies.set(name, value);
          }
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (d: string) => (text += d));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  }

  get(p: string): Promise<Answer> {
    return this.request('GET', p);
  }

  /** Posts a form the way a browser would: the page's own CSRF token added. */
  async postForm(pagePath: string, action: string, form: Record<string, string>): Promise<Answer> {
    const page = await this.get(pagePath);
    const csrf = hiddenFields(page.body)._csrf ?? '';
    return this.request('POST', action, { _csrf: csrf, ...form });
  }

  signIn(name: string, code?: string, password = PASSWORD): Promise<Answer> {
    const secret = this.rig.secrets.get(name);
    const totp = code ?? (secret ? totpCode(secret, Date.now()) : '');
    return this.postForm('/sign-in', '/sign-in', { name, password, code: totp });
  }
}

/** A signed-in client (the sign-in's 303 checked). */
export async function signedIn(rig: ConsoleRig, name: string): Promise<ConsoleClient> {
  const c = new ConsoleClient(rig);
  const answer = await c.signIn(name);
  if (answer.status !== 303) throw new Error(`${name} did not sign in: ${answer.status}`);
  return c;
}

/** The whole report-access record, oldest first. */
export function accessRows(rig: ConsoleRig): StoredAccessEntry[] {
  const db = openAdmin(rig.config);
  try {
    return listAccess(db, {});
  } finally {
    db.close();
  }
}

/** An open case about one user, as the CLI's `case open` makes it. */
export function openTestCase(rig: ConsoleRig, ref: string, user: string): void {
  const db = openAdmin(rig.config);
  try {
    openCase(db, {
      ref,
      subjects: [{ kind: 'user', value: user }],
      by: 'A. Head',
      osUser: 'test',
      now: Date.now(),
    });
  } finally {
    db.close();
  }
}
