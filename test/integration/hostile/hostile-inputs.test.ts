/**
 * The hostile-input checklist (docs: hostile-inputs.md §6) against the real proxy over loopback sockets,
 * squid-dafts style: every case checks the response AND the audit row, and that nothing reached the origin
 * when it must not.
 *
 * Expected outcomes, as in the checklist:
 * - BL: 403 block page (HTTP) or 403 (CONNECT refused at the CONNECT: not inspectable, or refused outright);
 *   one committed row (host, action 'block', reason); the origin sees no connection and no byte.
 * - BP: a blocked CONNECT for an inspected profile (this suite's proxy inspects), as a browser sees it:
 *   200, then TLS with a leaf for the CONNECT host signed by the school CA, then the block page (403,
 *   closed) for the first inner request. Two rows: the tunnel (kind 'tunnel', action 'block', reason
 *   'block-page:<rule>') and the page (kind 'inspected', action 'block', 403, the page's reference); the
 *   origin sees no connection and no byte.
 * - R400: 400 (or the stated code), connection closed, nothing at the origin, one row with action 'reject'
 *   and reason 'bad-request:<why>'.
 *
 * No name here is resolved through the machine's resolver: blocked names are decided before any lookup and
 * allowed names are routed (ROUTED_NAMES plus the `hosts` below). The one exception is G01's `localhost`,
 * which the checklist requires and which getaddrinfo answers from the hosts file.
 */
import { appendFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningSchoolgate } from '../../../src/app/start.js';
import { startTestProxy, tempDir, testConfig } from '../../helpers/schoolgate.js';
import {
  AuditReader,
  connectAuthority,
  markOrigin,
  originDelta,
  ORIGIN_TEXT,
  referenceIn,
  sleep,
  startCountingOrigin,
  talk,
  type AuditRow,
  type CountingOrigin,
  type Exchange,
  type OriginMark,
  type TalkOptions,
} from './harness.js';

/** Ports a case needs to build its bytes: P = the origin's port, X = the proxy's own port. */
interface Ports {
  P: number;
  X: number;
}

/** `page`: a CONNECT whose block is shown as the block page inside the tunnel (BP) instead of BL. */
type Expectation =
  /** BL (or BP): 403 and a block row for `host`. */
  | { kind: 'block'; host?: string; reason?: string; page?: boolean }
  /** R400: one of `statuses` (default 400), closed, a reject row whose reason starts with `reason`. */
  | { kind: 'reject'; reason?: string; statuses?: number[] }
  /** BL (or BP) or R400, never allowed (A06 raw UTF-8, A12). */
  | { kind: 'block-or-reject'; host?: string; page?: boolean }
  /** Denied for loopback / IP-literal reasons: 403 block row (host as logged) or R400. Never forwarded. */
  | { kind: 'denied'; host?: string; reason?: string; page?: boolean };

interface Case {
  id: string;
  input: string;
  bytes: (p: Ports) => string;
  expect: Expectation;
}

const NOTHING: OriginMark = { connections: 0, bytes: 0, started: 0, completed: 0 };

let origin: CountingOrigin;
let sg: RunningSchoolgate;
let audit: AuditReader;
let ports: Ports;

/** A name the list gives in Unicode (A07, reverse direction): the request uses its punycode. */
const UNICODE_LISTED = 'münchen.example';
const UNICODE_LISTED_ASCII = 'xn--mnchen-3ya.example';
/** `blоcked.example` with a Cyrillic о: its own name, routed so that an allow never needs DNS. */
const CYRILLIC_ASCII = 'xn--blcked-xqf.example';

beforeAll(async () => {
  origin = await startCountingOrigin();
  const dir = tempDir('schoolgate-hostile-');
  const config = testConfig(
    {
      // Port 80 too, so the checklist's literal `http://blocked.example/` is decided by policy, not by port.
      httpPorts: [80, origin.port],
      tunnelPorts: [443, origin.port],
      hosts: {
        'xblocked.example': '127.0.0.1',
        'blocked.example.other.test': '127.0.0.1',
        [CYRILLIC_ASCII]: '127.0.0.1',
      },
      // Short, so the slowloris case (E01) ends quickly; every other case sends whole heads at once.
      limits: { headersTimeoutMs: 1_000 },
    },
    dir,
  );
  appendFileSync(path.join(config.categoriesDir, 'adult', 'domains'), `${UNICODE_LISTED}\n`);
  sg = await startTestProxy(config);
  audit = new AuditReader(sg.auditPath);
  ports = { P: origin.port, X: sg.address.port };
});

afterAll(async () => {
  await sg?.stop();
  await origin?.close();
});

interface Outcome {
  ex: Exchange;
  rows: AuditRow[];
  origin: OriginMark;
}

interface Target {
  port: number;
  audit: AuditReader;
  /** The proxy's school CA (PEM): a CONNECT answered 200 carries on into TLS trusting it, as a browser. */
  ca: string;
}

function targetOf(proxy: RunningSchoolgate, reader: AuditReader): Target {
  return { port: proxy.address.port, audit: reader, ca: proxy.proxy.tls!.ca.certPem };
}

async function attack(
  bytes: string | Buffer | (string | Buffer)[],
  opts: TalkOptions = {},
  target: Target = targetOf(sg, audit),
): Promise<Outcome> {
  const rowMark = target.audit.mark();
  const originMark = markOrigin(origin);
  const authority = opts.connect ? connectAuthority(bytes) : undefined;
  const tunnel = authority === undefined ? {} : { tunnel: { ca: target.ca, authority } };
  const ex = await talk(target.port, bytes, { ...tunnel, ...opts });
  const outcome = { ex, rows: target.audit.since(rowMark), origin: originDelta(origin, originMark) };
  // Let whatever the hostile bytes set off after the answer (a late row, late upstream bytes) land before
  // the next case takes its marks, so no case sees another's traffic.
  await sleep(40);
  return outcome;
}

function describeOutcome(o: Outcome): string {
  return JSON.stringify({
    ...(o.ex.connect
      ? { connect: o.ex.connect.statusLine, tls: o.ex.handshake ?? o.ex.tlsError ?? null }
      : {}),
    status: o.ex.status,
    closed: o.ex.closed,
    head: o.ex.raw.split('\r\n')[0],
    rows: o.rows.map((r) => ({
      kind: r.kind,
      action: r.action,
      reason: r.reason,
      host: r.host,
      status: r.status,
    })),
    origin: o.origin,
  });
}

function expectBlocked(o: Outcome, host = 'blocked.example', reason?: string): AuditRow {
  expect(o.ex.connect, `refused at the request, no tunnel: ${describeOutcome(o)}`).toBeUndefined();
  expect(o.ex.status, describeOutcome(o)).toBe(403);
  expect(o.origin, 'nothing reaches the origin').toEqual(NOTHING);
  expect(o.rows, describeOutcome(o)).toHaveLength(1);
  const row = o.rows[0]!;
  expect(row).toMatchObject({ action: 'block', host, status: 403 });
  if (reason !== undefined) expect(row.reason).toBe(reason);
  else expect(row.reason).not.toBe('');
  if (host === 'blocked.example') expect(JSON.parse(row.categories)).toContain('adult');
  const reference = referenceIn(o.ex.final?.body ?? '');
  if (reference !== undefined) expect(reference).toBe(row.id);
  return row;
}

/** BP: see the header. `reason` is the rule kind (the page row's reason; the tunnel's is 'block-page:' + it). */
function expectBlockPage(
  o: Outcome,
  host = 'blocked.example',
  reason?: string,
): { tunnel: AuditRow; page: AuditRow } {
  const what = describeOutcome(o);
  expect(o.ex.connect?.status, what).toBe(200);
  expect(o.ex.tlsError, what).toBeUndefined();
  expect(o.ex.handshake, `TLS completed, the leaf verified against the school CA: ${what}`).toMatchObject({
    authorized: true,
  });
  expect(o.ex.handshake!.leafNames, 'the leaf is for the CONNECT host').toContain(host);
  expect(o.ex.status, what).toBe(403);
  expect(o.ex.final?.headers.connection, what).toMatch(/close/i);
  expect(o.ex.closed, 'the proxy closes the tunnel after the page').toBe(true);
  expect(o.origin, 'nothing reaches the origin').toEqual(NOTHING);
  expect(o.rows, what).toHaveLength(2);
  const [tunnel, page] = o.rows as [AuditRow, AuditRow];
  expect(tunnel).toMatchObject({ kind: 'tunnel', method: 'CONNECT', action: 'block', host, scheme: 'https' });
  // Written with 200 when the tunnel opened; its outcome (403) once the tunnel has closed.
  expect([200, 403]).toContain(tunnel.status);
  if (tunnel.completed_ms !== null) expect(tunnel.status).toBe(403);
  expect(page).toMatchObject({
    kind: 'inspected',
    method: 'GET',
    action: 'block',
    status: 403,
    host,
    path: '/',
  });
  if (reason !== undefined) expect(page.reason).toBe(reason);
  else expect(page.reason).not.toBe('');
  expect(tunnel.reason).toBe(`block-page:${page.reason}`);
  if (host === 'blocked.example') {
    for (const row of o.rows) expect(JSON.parse(row.categories)).toContain('adult');
  }
  expect(referenceIn(o.ex.final?.body ?? ''), 'the page names its row').toBe(page.id);
  return { tunnel, page };
}

function expectRejected(o: Outcome, reason = 'bad-request:', statuses = [400]): AuditRow {
  expect(o.ex.connect, `refused at the request, no tunnel: ${describeOutcome(o)}`).toBeUndefined();
  expect(statuses, describeOutcome(o)).toContain(o.ex.status);
  expect(o.ex.closed, 'the proxy closes the connection').toBe(true);
  expect(o.origin, 'nothing reaches the origin').toEqual(NOTHING);
  expect(o.rows, describeOutcome(o)).toHaveLength(1);
  const row = o.rows[0]!;
  expect(row.action).toBe('reject');
  expect(row.reason.startsWith(reason), `reason ${row.reason} starts with ${reason}`).toBe(true);
  expect(row.status).toBe(o.ex.status);
  return row;
}

function verify(o: Outcome, e: Expectation): void {
  switch (e.kind) {
    case 'block':
      if (e.page) expectBlockPage(o, e.host, e.reason);
      else expectBlocked(o, e.host, e.reason);
      return;
    case 'reject':
      expectRejected(o, e.reason, e.statuses);
      return;
    case 'block-or-reject':
      if (e.page && o.ex.connect) expectBlockPage(o, e.host);
      else if (!e.page && o.ex.status === 403) expectBlocked(o, e.host);
      else expectRejected(o);
      return;
    case 'denied':
      if (e.page && o.ex.connect) expectBlockPage(o, e.host ?? o.rows[0]?.host, e.reason);
      else if (!e.page && o.ex.status === 403) expectBlocked(o, e.host ?? o.rows[0]?.host, e.reason);
      else expectRejected(o);
      if (o.ex.status === 403 && e.host) expect(o.rows[0]!.host).toBe(e.host);
      return;
  }
}

/** A GET in absolute form; Host follows the authority unless given (or omitted for non-ASCII hosts). */
function get(url: string, extra: string[] = [], method = 'GET', version = 'HTTP/1.1'): string {
  const authority = /^[a-z]+:\/\/([^/?#]*)/i.exec(url)?.[1] ?? '';
  // Only printable-ASCII authorities become a Host header.
  const host = /^[\x21-\x7e]+$/.test(authority) ? [`Host: ${authority}`] : [];
  return [`${method} ${url} ${version}`, ...host, ...extra, '', ''].join('\r\n');
}

function connect(authority: string): string {
  return `CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\n\r\n`;
}

const BL = (host = 'blocked.example', reason?: string): Expectation =>
  reason === undefined ? { kind: 'block', host } : { kind: 'block', host, reason };
const BP = (host = 'blocked.example', reason?: string): Expectation =>
  reason === undefined ? { kind: 'block', host, page: true } : { kind: 'block', host, reason, page: true };
const R400 = (reason = 'bad-request:', statuses = [400]): Expectation => ({
  kind: 'reject',
  reason,
  statuses,
});

// ---------------------------------------------------------------------------------------------------------
// A. Hostname normalisation

const A_HTTP: Case[] = [
  { id: 'A01', input: 'http://blocked.example/', bytes: () => get('http://blocked.example/'), expect: BL() },
  {
    id: 'A01',
    input: 'http://blocked.example:P/',
    bytes: ({ P }) => get(`http://blocked.example:${P}/`),
    expect: BL(),
  },
  {
    id: 'A02',
    input: 'http://BLOCKED.Example:P/ (logged lowercase)',
    bytes: ({ P }) => get(`http://BLOCKED.Example:${P}/`),
    expect: BL(),
  },
  {
    id: 'A02',
    input: 'HTTP://BLOCKED.EXAMPLE:P/ (scheme case too)',
    bytes: ({ P }) => get(`HTTP://BLOCKED.EXAMPLE:${P}/`),
    expect: BL(),
  },
  {
    id: 'A03',
    input: 'http://blocked.example.:P/ (trailing dot)',
    bytes: ({ P }) => get(`http://blocked.example.:${P}/`),
    expect: BL(),
  },
  {
    id: 'A04',
    input: 'http://blocked.example..:P/ (empty label)',
    bytes: ({ P }) => get(`http://blocked.example..:${P}/`),
    expect: R400('bad-request:empty-label'),
  },
  {
    id: 'A04',
    input: 'http://a..blocked.example:P/ (empty label inside)',
    bytes: ({ P }) => get(`http://a..blocked.example:${P}/`),
    expect: R400('bad-request:empty-label'),
  },
  {
    id: 'A04',
    input: 'http://.blocked.example:P/ (leading empty label)',
    bytes: ({ P }) => get(`http://.blocked.example:${P}/`),
    expect: R400('bad-request:'),
  },
  {
    id: 'A05',
    input: 'http://a.b.blocked.example:P/ (subdomain of a listed domain)',
    bytes: ({ P }) => get(`http://a.b.blocked.example:${P}/`),
    expect: { kind: 'block', host: 'a.b.blocked.example' },
  },
  {
    id: 'A06',
    input: 'http://ｂｌｏｃｋｅｄ.example:P/ (fullwidth, raw UTF-8 bytes)',
    bytes: ({ P }) => get(`http://ｂｌｏｃｋｅｄ.example:${P}/`),
    expect: { kind: 'block-or-reject' },
  },
  {
    id: 'A06',
    input: 'http://blocked。example:P/ (ideographic full stop, raw UTF-8 bytes)',
    bytes: ({ P }) => get(`http://blocked。example:${P}/`),
    expect: { kind: 'block-or-reject' },
  },
  {
    id: 'A06',
    input: 'http://blo\\u200bcked.example:P/ (zero-width space, raw UTF-8 bytes)',
    bytes: ({ P }) => get(`http://blo\u200bcked.example:${P}/`),
    expect: { kind: 'block-or-reject' },
  },
  {
    id: 'A06',
    input: 'http://blo%E2%80%8Bcked.example:P/ (zero-width space, escaped)',
    bytes: ({ P }) => get(`http://blo%E2%80%8Bcked.example:${P}/`),
    expect: BL(),
  },
  {
    id: 'A06',
    input:
      'http://%EF%BD%82%EF%BD%8C%EF%BD%8F%EF%BD%83%EF%BD%8B%EF%BD%85%EF%BD%84.example:P/ (fullwidth, escaped)',
    bytes: ({ P }) =>
      get(`http://%EF%BD%82%EF%BD%8C%EF%BD%8F%EF%BD%83%EF%BD%8B%EF%BD%85%EF%BD%84.example:${P}/`),
    expect: BL(),
  },
  {
    id: 'A06',
    input: 'http://blocked%E3%80%82example:P/ (ideographic full stop, escaped)',
    bytes: ({ P }) => get(`http://blocked%E3%80%82example:${P}/`),
    expect: BL(),
  },
  {
    id: 'A07',
    input: 'http://b%C3%BCcher.example:P/ (list has xn--bcher-kva.example)',
    bytes: ({ P }) => get(`http://b%C3%BCcher.example:${P}/`),
    expect: { kind: 'block', host: 'xn--bcher-kva.example' },
  },
  {
    id: 'A07',
    input: 'http://bücher.example:P/ (raw UTF-8; list has xn--bcher-kva.example)',
    bytes: ({ P }) => get(`http://bücher.example:${P}/`),
    expect: { kind: 'block-or-reject', host: 'xn--bcher-kva.example' },
  },
  {
    id: 'A07',
    input: 'http://XN--BCHER-KVA.example:P/ (punycode, upper case)',
    bytes: ({ P }) => get(`http://XN--BCHER-KVA.example:${P}/`),
    expect: { kind: 'block', host: 'xn--bcher-kva.example' },
  },
  {
    id: 'A07',
    input: `http://${UNICODE_LISTED_ASCII}:P/ (list has ${UNICODE_LISTED})`,
    bytes: ({ P }) => get(`http://${UNICODE_LISTED_ASCII}:${P}/`),
    expect: { kind: 'block', host: UNICODE_LISTED_ASCII },
  },
  {
    id: 'A11',
    input: 'http://allowed.test@blocked.example:P/ (userinfo)',
    bytes: ({ P }) => get(`http://allowed.test@blocked.example:${P}/`),
    expect: R400('bad-request:userinfo'),
  },
  {
    id: 'A11',
    input: 'http://user:pw@allowed.test:P/ (userinfo with password)',
    bytes: ({ P }) => get(`http://user:pw@allowed.test:${P}/`),
    expect: R400('bad-request:userinfo'),
  },
  {
    id: 'A11',
    input: 'http://allowed.test%40blocked.example:P/ (escaped @)',
    bytes: ({ P }) => get(`http://allowed.test%40blocked.example:${P}/`),
    expect: { kind: 'block-or-reject' },
  },
  {
    id: 'A12',
    input: 'http://blocked%2Eexample:P/',
    bytes: ({ P }) => get(`http://blocked%2Eexample:${P}/`),
    expect: { kind: 'block-or-reject' },
  },
  {
    id: 'A12',
    input: 'http://blocked%2eexample:P/ (lower-case escape)',
    bytes: ({ P }) => get(`http://blocked%2eexample:${P}/`),
    expect: { kind: 'block-or-reject' },
  },
  {
    id: 'A12',
    input: 'http://%62locked.example:P/',
    bytes: ({ P }) => get(`http://%62locked.example:${P}/`),
    expect: { kind: 'block-or-reject' },
  },
  {
    id: 'A12',
    input: 'http://blocked%252Eexample:P/ (double-encoded)',
    bytes: ({ P }) => get(`http://blocked%252Eexample:${P}/`),
    expect: { kind: 'block-or-reject' },
  },
];

/** A09: every spelling of loopback is denied and, where it parsed, logged as the address it reaches. */
const A09_HOSTS: { form: string; logged: string }[] = [
  { form: '2130706433', logged: '127.0.0.1' },
  { form: '0x7f.1', logged: '127.0.0.1' },
  { form: '0x7f000001', logged: '127.0.0.1' },
  { form: '0177.0.0.1', logged: '127.0.0.1' },
  { form: '127.1', logged: '127.0.0.1' },
  { form: '127.0.0.1', logged: '127.0.0.1' },
  { form: '127.000.000.001', logged: '127.0.0.1' },
  { form: '0', logged: '0.0.0.0' },
  { form: '[::ffff:127.0.0.1]', logged: '127.0.0.1' },
  { form: '[::ffff:7f00:1]', logged: '127.0.0.1' },
  { form: '[::1]', logged: '::1' },
  { form: '[0:0:0:0:0:0:0:1]', logged: '::1' },
];

/** CONNECT: the suite's proxy inspects, so a blocked host is shown its block page inside the tunnel (BP). */
const A_CONNECT: Case[] = [
  {
    id: 'A01/C01',
    input: 'CONNECT blocked.example:443',
    bytes: () => connect('blocked.example:443'),
    expect: BP(),
  },
  {
    id: 'A02',
    input: 'CONNECT BLOCKED.EXAMPLE:443',
    bytes: () => connect('BLOCKED.EXAMPLE:443'),
    expect: BP(),
  },
  {
    id: 'A03',
    input: 'CONNECT blocked.example.:443',
    bytes: () => connect('blocked.example.:443'),
    expect: BP(),
  },
  {
    id: 'A04',
    input: 'CONNECT blocked.example..:443',
    bytes: () => connect('blocked.example..:443'),
    expect: R400('bad-request:empty-label'),
  },
  {
    id: 'A05',
    input: 'CONNECT a.b.blocked.example:443',
    bytes: () => connect('a.b.blocked.example:443'),
    expect: BP('a.b.blocked.example'),
  },
  {
    id: 'A06',
    input: 'CONNECT blo%E2%80%8Bcked.example:443',
    bytes: () => connect('blo%E2%80%8Bcked.example:443'),
    expect: { kind: 'block-or-reject', page: true },
  },
  {
    id: 'A06',
    input: 'CONNECT ｂｌｏｃｋｅｄ.example:443 (raw UTF-8)',
    bytes: () => `CONNECT ｂｌｏｃｋｅｄ.example:443 HTTP/1.1\r\n\r\n`,
    expect: { kind: 'block-or-reject', page: true },
  },
  {
    id: 'A07',
    input: 'CONNECT b%C3%BCcher.example:443',
    bytes: () => connect('b%C3%BCcher.example:443'),
    expect: { kind: 'block-or-reject', host: 'xn--bcher-kva.example', page: true },
  },
  {
    id: 'A07',
    input: `CONNECT ${UNICODE_LISTED_ASCII}:443 (list has ${UNICODE_LISTED})`,
    bytes: () => connect(`${UNICODE_LISTED_ASCII}:443`),
    expect: BP(UNICODE_LISTED_ASCII),
  },
  {
    id: 'A10',
    input: 'CONNECT [::ffff:7f00:1]:P',
    bytes: ({ P }) => connect(`[::ffff:7f00:1]:${P}`),
    expect: { kind: 'denied', host: '127.0.0.1', reason: 'ip-literal', page: true },
  },
  {
    id: 'A10',
    input: 'CONNECT [::ffff:7f00:1]:443',
    bytes: () => connect('[::ffff:7f00:1]:443'),
    expect: { kind: 'denied', host: '127.0.0.1', reason: 'ip-literal', page: true },
  },
  {
    id: 'A10',
    input: 'CONNECT [::1]:P',
    bytes: ({ P }) => connect(`[::1]:${P}`),
    expect: { kind: 'denied', host: '::1', reason: 'ip-literal', page: true },
  },
  {
    id: 'A10',
    input: 'CONNECT [::1]:443',
    bytes: () => connect('[::1]:443'),
    expect: { kind: 'denied', host: '::1', reason: 'ip-literal', page: true },
  },
  {
    id: 'A09',
    input: 'CONNECT 2130706433:P',
    bytes: ({ P }) => connect(`2130706433:${P}`),
    expect: { kind: 'denied', host: '127.0.0.1', reason: 'ip-literal', page: true },
  },
  {
    id: 'A09',
    input: 'CONNECT 127.1:P',
    bytes: ({ P }) => connect(`127.1:${P}`),
    expect: { kind: 'denied', host: '127.0.0.1', reason: 'ip-literal', page: true },
  },
  {
    id: 'A11',
    input: 'CONNECT allowed.test@blocked.example:443',
    bytes: () => connect('allowed.test@blocked.example:443'),
    expect: R400('bad-request:userinfo'),
  },
  {
    id: 'A12',
    input: 'CONNECT blocked%2Eexample:443',
    bytes: () => connect('blocked%2Eexample:443'),
    expect: { kind: 'block-or-reject', page: true },
  },
];

describe('A. host names in absolute-form HTTP requests', () => {
  it.each(A_HTTP)('$id $input', async ({ bytes, expect: e }) => {
    verify(await attack(bytes(ports)), e);
  });

  it.each(A09_HOSTS)('A09 http://$form:P/ is denied and logged as $logged', async ({ form, logged }) => {
    const o = await attack(get(`http://${form}:${ports.P}/a09`));
    verify(o, { kind: 'denied', host: logged });
    if (o.ex.status === 403) expect(o.rows[0]!.reason).toBe('ip-literal');
  });

  it('A05 a look-alike that only ends with the listed name is allowed (label-boundary suffix match)', async () => {
    for (const host of ['notblocked.example', 'xblocked.example']) {
      const o = await attack(get(`http://${host}:${ports.P}/a05`));
      expect(o.ex.status, describeOutcome(o)).toBe(200);
      expect(o.ex.final?.body).toBe(ORIGIN_TEXT);
      expect(o.origin.completed).toBe(1);
      expect(o.rows).toHaveLength(1);
      expect(o.rows[0]).toMatchObject({ action: 'allow', host, path: '/a05' });
    }
  });

  it('A05 the listed name as a label inside another domain is not matched', async () => {
    const o = await attack(get(`http://blocked.example.other.test:${ports.P}/a05`));
    expect(o.ex.status, describeOutcome(o)).toBe(200);
    expect(o.rows[0]).toMatchObject({ action: 'allow', host: 'blocked.example.other.test' });
  });

  it('A08 blоcked.example (Cyrillic о) is logged as its own name in punycode, and decided as the name it imitates', async () => {
    const o = await attack(get(`http://bl%D0%BEcked.example:${ports.P}/a08`));
    expect(o.rows, describeOutcome(o)).toHaveLength(1);
    const row = o.rows[0]!;
    expect(row.host).toBe(CYRILLIC_ASCII);
    expect(o.ex.status).toBe(403);
    expect(row).toMatchObject({
      action: 'block',
      reason: 'category',
      rule: 'category:adult:blocked.example',
    });
    expect(JSON.parse(row.categories)).toContain('adult');
    expect(o.origin).toEqual(NOTHING);
  });
});

describe('A. host names in CONNECT', () => {
  it.each(A_CONNECT)('$id $input', async ({ bytes, expect: e }) => {
    const o = await attack(bytes(ports), { connect: true });
    verify(o, e);
    expect(o.ex.closed, 'a refused (or block-page) CONNECT is closed').toBe(true);
    // A request line Node's parser refuses has no method yet; a decided one is logged as CONNECT.
    if (o.rows[0]!.action === 'block') expect(o.rows[0]!.method).toBe('CONNECT');
  });

  it.each([
    ['plain HTTP naming a blocked host', 'GET /through-tunnel HTTP/1.1\r\nHost: blocked.example\r\n\r\n'],
    ['an SSH banner', 'SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n'],
    // SSLv2-format ClientHello: a two-byte record header with the high bit set, message type 1.
    [
      'an SSLv2-format hello',
      Buffer.from('802e0100020015000000100100800300800700c0060040020080040080', 'hex'),
    ],
  ])(
    'A05/C08 CONNECT notblocked.example:P then %s: never relayed (inspectable tunnel), closed, a row says why',
    async (_what, bytes) => {
      const rowMark = audit.mark();
      const before = markOrigin(origin);
      const ex = await talk(ports.X, connect(`notblocked.example:${ports.P}`), {
        connect: true,
        keepOpen: true,
      });
      expect(ex.status, ex.raw).toBe(200);
      const closed = new Promise<string>((resolve) => {
        const chunks: Buffer[] = [];
        ex.socket.on('data', (c: Buffer) => chunks.push(c));
        ex.socket.once('close', () => resolve(Buffer.concat(chunks).toString('latin1')));
      });
      ex.socket.write(bytes);
      expect(await closed).toBe('');
      expect(originDelta(origin, before)).toEqual(NOTHING);
      expect(audit.since(rowMark)).toMatchObject([
        { action: 'allow', method: 'CONNECT', host: 'notblocked.example', port: ports.P, kind: 'tunnel' },
        {
          action: 'block',
          reason: 'non-tls-in-tunnel',
          host: 'notblocked.example',
          kind: 'tunnel',
          status: 403,
        },
      ]);
    },
  );
});

describe('A05 with profiles that are not inspected: non-TLS tunnels only where the profile allows them', () => {
  let plain: RunningSchoolgate;
  let plainAudit: AuditReader;
  let byod: RunningSchoolgate;
  let byodAudit: AuditReader;
  /** Every loopback client gets `profile`; neither profile is inspected. */
  const proxyFor = (profile: 'technician' | 'byod') =>
    startTestProxy(
      testConfig({
        httpPorts: [origin.port],
        tunnelPorts: [origin.port],
        identity: { networks: [{ cidr: '127.0.0.0/8', profile }] },
        profiles: {
          replace: true,
          guest: { categories: { adult: 'block' } },
          technician: { categories: { adult: 'block' }, inspect: false, tunnelNonTls: true },
          byod: { categories: { adult: 'block' }, inspect: false },
        },
      }),
    );
  beforeAll(async () => {
    plain = await proxyFor('technician');
    plainAudit = new AuditReader(plain.auditPath);
    byod = await proxyFor('byod');
    byodAudit = new AuditReader(byod.auditPath);
  });
  afterAll(async () => {
    await plain?.stop();
    await byod?.stop();
  });

  it('a profile without tunnelNonTls (the default) gets an SSH banner refused in a raw tunnel', async () => {
    const rowMark = byodAudit.mark();
    const before = markOrigin(origin);
    const ex = await talk(byod.address.port, connect(`notblocked.example:${ports.P}`), {
      connect: true,
      keepOpen: true,
    });
    expect(ex.status, ex.raw).toBe(200);
    const closed = new Promise<void>((resolve) => ex.socket.once('close', () => resolve()));
    ex.socket.write('SSH-2.0-OpenSSH_9.2p1\r\n');
    await closed;
    // A raw tunnel connects upstream while its row commits (before the first bytes are seen): the
    // connection may have opened, but not one byte of the client's went through.
    expect(originDelta(origin, before)).toMatchObject({ bytes: 0, started: 0, completed: 0 });
    expect(byodAudit.since(rowMark)).toMatchObject([
      { action: 'allow', host: 'notblocked.example', profile: 'byod', kind: 'tunnel' },
      { action: 'block', reason: 'non-tls-in-tunnel', host: 'notblocked.example', kind: 'tunnel' },
    ]);
  });

  it('a profile with tunnelNonTls gets plain HTTP relayed to the routed origin, logged as an allow', async () => {
    const rowMark = plainAudit.mark();
    const before = markOrigin(origin);
    const ex = await talk(plain.address.port, connect(`notblocked.example:${ports.P}`), {
      connect: true,
      keepOpen: true,
    });
    try {
      expect(ex.status, ex.raw).toBe(200);
      const answer = await new Promise<string>((resolve) => {
        const chunks: Buffer[] = [];
        ex.socket.on('data', (c: Buffer) => {
          chunks.push(c);
          const text = Buffer.concat(chunks).toString();
          if (text.includes(ORIGIN_TEXT)) resolve(text);
        });
        ex.socket.write('GET /through-tunnel HTTP/1.1\r\nHost: notblocked.example\r\n\r\n');
      });
      expect(answer).toContain('HTTP/1.1 200');
    } finally {
      ex.socket.destroy();
    }
    expect(originDelta(origin, before).completed).toBe(1);
    expect(plainAudit.since(rowMark)).toMatchObject([
      { action: 'allow', method: 'CONNECT', host: 'notblocked.example', profile: 'technician', status: 200 },
    ]);
  });
});

// ---------------------------------------------------------------------------------------------------------
// B. Request line and headers

const post = (P: number, headers: string[], body: string): string =>
  [`POST http://allowed.test:${P}/b HTTP/1.1`, `Host: allowed.test:${P}`, ...headers, '', body].join('\r\n');
const CHUNKED_HELLO = '5\r\nhello\r\n0\r\n\r\n';

const B_REJECTS: Case[] = [
  {
    id: 'B02',
    input: 'absolute-form with two Host headers',
    bytes: ({ P }) => get(`http://allowed.test:${P}/b02`, ['Host: blocked.example']),
    expect: R400('bad-request:duplicate-host'),
  },
  {
    id: 'B02',
    input: 'absolute-form with Host and HOST',
    bytes: ({ P }) =>
      `GET http://allowed.test:${P}/b02 HTTP/1.1\r\nhost: allowed.test\r\nHOST: blocked.example\r\n\r\n`,
    expect: R400('bad-request:duplicate-host'),
  },
  {
    id: 'B02',
    input: 'GET / HTTP/1.1 with Host: allowed.test + Host: blocked.example',
    bytes: () => 'GET / HTTP/1.1\r\nHost: allowed.test\r\nHost: blocked.example\r\n\r\n',
    expect: R400('bad-request:duplicate-host'),
  },
  {
    id: 'B04',
    input: 'GET http://blocked.example:P/ HTTP/2.0',
    bytes: ({ P }) => get(`http://blocked.example:${P}/`, [], 'GET', 'HTTP/2.0'),
    expect: R400('bad-request:', [505, 400]),
  },
  {
    id: 'B04',
    input: 'GET http://allowed.test:P/ HTTP/2.0',
    bytes: ({ P }) => get(`http://allowed.test:${P}/`, [], 'GET', 'HTTP/2.0'),
    expect: R400('bad-request:', [505, 400]),
  },
  {
    id: 'B04',
    input: 'GET http://allowed.test:P/ HTTP/9.0',
    bytes: ({ P }) => get(`http://allowed.test:${P}/`, [], 'GET', 'HTTP/9.0'),
    expect: R400('bad-request:', [505, 400]),
  },
  {
    id: 'B05',
    input: 'Content-Length: 5 + Transfer-Encoding: chunked',
    bytes: ({ P }) => post(P, ['Content-Length: 5', 'Transfer-Encoding: chunked'], CHUNKED_HELLO),
    expect: R400(),
  },
  {
    id: 'B05',
    input: 'Transfer-Encoding: chunked + Content-Length: 5 (TE first)',
    bytes: ({ P }) => post(P, ['Transfer-Encoding: chunked', 'Content-Length: 5'], CHUNKED_HELLO),
    expect: R400(),
  },
  {
    id: 'B06',
    input: 'two differing Content-Lengths',
    bytes: ({ P }) => post(P, ['Content-Length: 5', 'Content-Length: 6'], 'hello!'),
    expect: R400(),
  },
  {
    id: 'B06',
    input: 'Content-Length: 5, 6 (one line)',
    bytes: ({ P }) => post(P, ['Content-Length: 5, 6'], 'hello!'),
    expect: R400(),
  },
  {
    id: 'B06',
    input: 'Content-Length: +5',
    bytes: ({ P }) => post(P, ['Content-Length: +5'], 'hello'),
    expect: R400(),
  },
  {
    id: 'B06',
    input: 'Content-Length: -1',
    bytes: ({ P }) => post(P, ['Content-Length: -1'], 'hello'),
    expect: R400(),
  },
  {
    id: 'B06',
    input: 'Content-Length: 0x10',
    bytes: ({ P }) => post(P, ['Content-Length: 0x10'], 'hello'),
    expect: R400(),
  },
  {
    id: 'B06',
    input: 'Content-Length: (empty)',
    bytes: ({ P }) => post(P, ['Content-Length: '], 'hello'),
    expect: R400(),
  },
  {
    id: 'B07',
    input: 'Transfer-Encoding: xchunked',
    bytes: ({ P }) => post(P, ['Transfer-Encoding: xchunked'], CHUNKED_HELLO),
    expect: R400('bad-request:', [400, 501]),
  },
  {
    id: 'B07',
    input: 'Transfer-Encoding: chunked, gzip',
    bytes: ({ P }) => post(P, ['Transfer-Encoding: chunked, gzip'], CHUNKED_HELLO),
    expect: R400('bad-request:', [400, 501]),
  },
  {
    id: 'B07',
    input: 'Transfer-Encoding: ,chunked',
    bytes: ({ P }) => post(P, ['Transfer-Encoding: ,chunked'], CHUNKED_HELLO),
    expect: R400('bad-request:', [400, 501]),
  },
  {
    id: 'B07',
    input: 'two Transfer-Encoding: chunked lines',
    bytes: ({ P }) => post(P, ['Transfer-Encoding: chunked', 'Transfer-Encoding: chunked'], CHUNKED_HELLO),
    expect: R400('bad-request:', [400, 501]),
  },
  {
    id: 'B09',
    input: 'obs-fold (header continued on a line starting with a space)',
    bytes: ({ P }) => get(`http://allowed.test:${P}/b09`, ['X-Folded: a', ' b']),
    expect: R400(),
  },
  {
    id: 'B09',
    input: 'Host : allowed.test (space before the colon)',
    bytes: ({ P }) => `GET http://allowed.test:${P}/b09 HTTP/1.1\r\nHost : allowed.test\r\n\r\n`,
    expect: R400(),
  },
  {
    id: 'B09',
    input: 'X-A: a<NUL>b',
    bytes: ({ P }) => get(`http://allowed.test:${P}/b09`, ['X-A: a\u0000b']),
    expect: R400(),
  },
  {
    id: 'B09',
    input: 'X-A: a<CR>b',
    bytes: ({ P }) => get(`http://allowed.test:${P}/b09`, ['X-A: a\rb']),
    expect: R400(),
  },
  {
    id: 'B09',
    input: 'empty header name (": x")',
    bytes: ({ P }) => get(`http://allowed.test:${P}/b09`, [': x']),
    expect: R400(),
  },
  {
    id: 'B11',
    input: 'G@T http://allowed.test:P/ HTTP/1.1',
    bytes: ({ P }) => get(`http://allowed.test:${P}/b11`, [], 'G@T'),
    expect: R400(),
  },
  {
    id: 'B11',
    input: 'PRI * HTTP/2.0 preface',
    bytes: () => 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n',
    expect: R400('bad-request:', [400, 405, 505]),
  },
  {
    id: 'B12',
    input: '20 KB header',
    bytes: ({ P }) => get(`http://allowed.test:${P}/b12`, [`X-Big: ${'a'.repeat(20 * 1024)}`]),
    expect: R400('bad-request:', [431]),
  },
  {
    id: 'B12',
    input: '64 KB URL',
    bytes: ({ P }) => get(`http://allowed.test:${P}/${'a'.repeat(64 * 1024)}`),
    expect: R400('bad-request:', [414, 431, 400]),
  },
  {
    id: 'B12',
    input: '3000 headers (X-Header-NNNN: value)',
    bytes: ({ P }) =>
      get(
        `http://allowed.test:${P}/b12`,
        Array.from({ length: 3000 }, (_, i) => `X-Header-${String(i).padStart(4, '0')}: value`),
      ),
    expect: R400('bad-request:', [431, 414]),
  },
  {
    id: 'B12',
    input: '3000 headers of 5 bytes each (a:1), under 16 KiB in total',
    bytes: ({ P }) =>
      get(
        `http://allowed.test:${P}/b12`,
        Array.from({ length: 3000 }, () => 'a:1'),
      ),
    expect: R400('bad-request:', [431, 414]),
  },
];

/** B08: chunked bodies with broken grammar, to an allowed host (so a lenient parser would forward them). */
const B08: Case[] = [
  {
    id: 'B08',
    input: 'chunk size 0x1',
    bytes: ({ P }) => post(P, ['Transfer-Encoding: chunked'], '0x1\r\nh\r\n0\r\n\r\n'),
    expect: R400(),
  },
  {
    id: 'B08',
    input: 'chunk size -0',
    bytes: ({ P }) => post(P, ['Transfer-Encoding: chunked'], '-0\r\n\r\n'),
    expect: R400(),
  },
  {
    id: 'B08',
    input: 'chunk size " 0"',
    bytes: ({ P }) => post(P, ['Transfer-Encoding: chunked'], ' 0\r\n\r\n'),
    expect: R400(),
  },
  {
    id: 'B08',
    input: 'LF in a chunk extension',
    bytes: ({ P }) => post(P, ['Transfer-Encoding: chunked'], '5;a\nb\r\nhello\r\n0\r\n\r\n'),
    expect: R400(),
  },
  {
    id: 'B08',
    input: 'chunk size followed by \\rX',
    bytes: ({ P }) => post(P, ['Transfer-Encoding: chunked'], '5\rXhello\r\n0\r\n\r\n'),
    expect: R400(),
  },
  {
    id: 'B08',
    input: 'missing CRLF after chunk data',
    bytes: ({ P }) => post(P, ['Transfer-Encoding: chunked'], '5\r\nhelloXX0\r\n\r\n'),
    expect: R400(),
  },
];

describe('B. request line and headers', () => {
  it.each(B_REJECTS)('$id $input → rejected', async ({ bytes, expect: e }) => {
    verify(await attack(bytes(ports)), e);
  });

  it.each(B08)('$id $input → rejected, nothing forwarded', async ({ bytes, expect: e }) => {
    verify(await attack(bytes(ports)), e);
  });

  it('B01 the absolute URI wins over Host: blocked target with Host: allowed.test is blocked', async () => {
    const o = await attack(
      get(`http://blocked.example:${ports.P}/b01`, [], 'GET').replace(
        `Host: blocked.example:${ports.P}`,
        `Host: allowed.test:${ports.P}`,
      ),
    );
    expectBlocked(o);
  });

  it('B01 an allowed target is forwarded with Host rewritten from the target, not the client Host', async () => {
    const o = await attack(
      `GET http://allowed.test:${ports.P}/b01 HTTP/1.1\r\nHost: blocked.example\r\nConnection: close\r\n\r\n`,
    );
    expect(o.ex.status, describeOutcome(o)).toBe(200);
    expect(o.origin.completed).toBe(1);
    const seen = origin.completed.at(-1)!;
    expect(seen.url).toBe('/b01');
    expect(seen.headers.host).toBe(`allowed.test:${ports.P}`);
    expect(seen.rawHeaders.filter((h, i) => i % 2 === 0 && h.toLowerCase() === 'host')).toHaveLength(1);
    expect(o.rows).toMatchObject([{ action: 'allow', host: 'allowed.test', path: '/b01' }]);
  });

  it('B03 HTTP/1.0 absolute-form without Host is forwarded on its target, with a Host header added', async () => {
    const o = await attack(`GET http://allowed.test:${ports.P}/b03 HTTP/1.0\r\n\r\n`);
    expect(o.ex.status, describeOutcome(o)).toBe(200);
    expect(origin.completed.at(-1)!.headers.host).toBe(`allowed.test:${ports.P}`);
    expect(o.rows).toMatchObject([{ action: 'allow', host: 'allowed.test', path: '/b03' }]);
  });

  it('B03 HTTP/1.0 absolute-form to a blocked host without Host is blocked', async () => {
    expectBlocked(await attack(`GET http://blocked.example:${ports.P}/b03 HTTP/1.0\r\n\r\n`));
  });

  it('B03 GET / HTTP/1.0 without Host is the proxy’s own page or a 400, never forwarded', async () => {
    const o = await attack('GET / HTTP/1.0\r\n\r\n');
    expect(o.origin).toEqual(NOTHING);
    if (o.ex.status !== 200) expectRejected(o);
    else expect(o.ex.final?.body).toContain('school web filter');
  });

  it('B03 HTTP/0.9 "GET /" is never forwarded (documents what the proxy answers)', async () => {
    const o = await attack('GET /\r\n\r\n');
    expect(o.origin).toEqual(NOTHING);
    // Observed: Node parses it as HTTP/0.9, origin-form `/` is the proxy itself, so the proxy answers its
    // own index page (an HTTP/1.1 200, then closes) and writes no row. Addressed to the proxy's own pages,
    // which §1 allows; a 400/505 instead must carry a reject row.
    if (o.ex.status === 400 || o.ex.status === 505) expectRejected(o, 'bad-request:', [400, 505]);
    else {
      expect(o.ex.status, describeOutcome(o)).toBe(200);
      expect(o.ex.final?.body).toContain('school web filter');
      expect(o.ex.closed).toBe(true);
    }
  });

  it('B03 HTTP/0.9 absolute-form "GET http://allowed.test:P/" is rejected, never forwarded', async () => {
    const o = await attack(`GET http://allowed.test:${ports.P}/b03\r\n\r\n`);
    expectRejected(o, 'bad-request:', [400, 505]);
  });

  it('B10 bare-LF line endings are rejected, or forwarded only as a well-formed request', async () => {
    for (const bytes of [
      `GET http://allowed.test:${ports.P}/b10 HTTP/1.1\nHost: allowed.test:${ports.P}\n\n`,
      `GET http://allowed.test:${ports.P}/b10 HTTP/1.1\r\nHost: allowed.test:${ports.P}\r\nX-A: 1\nX-B: 2\r\n\r\n`,
    ]) {
      const o = await attack(bytes);
      if (o.ex.status === 400) {
        expectRejected(o);
        continue;
      }
      expect(o.ex.status, describeOutcome(o)).toBe(200);
      expect(o.origin.completed).toBe(1);
      const seen = origin.completed.at(-1)!;
      for (const part of seen.rawHeaders) expect(part).not.toMatch(/[\r\n]/);
      expect(o.rows).toMatchObject([{ action: 'allow', host: 'allowed.test' }]);
    }
  });

  it('B13 a fragment on a blocked URL is still blocked, and never logged', async () => {
    const o = await attack(get(`http://blocked.example:${ports.P}/page#frag`));
    const row = expectBlocked(o);
    expect(row.path).toBe('/page');
  });

  it('B13 a fragment is never forwarded to the origin', async () => {
    const o = await attack(get(`http://allowed.test:${ports.P}/b13?x=1#frag`, ['Connection: close']));
    expect(o.ex.status, describeOutcome(o)).toBe(200);
    expect(origin.completed.at(-1)!.url).toBe('/b13?x=1');
    expect(o.rows[0]!.path).not.toContain('#');
  });

  it.each([
    ['//videos/x', '/videos/x'],
    ['/x/../videos/a', '/videos/a'],
    ['/%76ideos/a', '/videos/a'],
    ['/./videos/', '/videos/'],
  ])('B13 URL rules use the normalised path: %s is blocked (allowed.test/videos)', async (raw) => {
    const o = await attack(get(`http://allowed.test:${ports.P}${raw}`));
    const row = expectBlocked(o, 'allowed.test');
    expect(JSON.parse(row.categories)).toContain('streaming');
  });

  it('B13 //x/..%2F is matched normalised but forwarded as the original bytes', async () => {
    const o = await attack(get(`http://allowed.test:${ports.P}//x/..%2F`, ['Connection: close']));
    expect(o.ex.status, describeOutcome(o)).toBe(200);
    expect(origin.completed.at(-1)!.url).toBe('//x/..%2F');
    expect(o.rows).toMatchObject([{ action: 'allow', host: 'allowed.test' }]);
  });

  it('B14 pipelined allowed then blocked on one connection: 200 then 403, two rows', async () => {
    const o = await attack(
      get(`http://allowed.test:${ports.P}/b14`) +
        get(`http://blocked.example:${ports.P}/b14`, ['Connection: close']),
      { responses: 2 },
    );
    const finals = o.ex.responses.filter((r) => r.status >= 200).map((r) => r.status);
    expect(finals, describeOutcome(o)).toEqual([200, 403]);
    expect(o.origin.completed).toBe(1);
    expect(origin.completed.at(-1)!.url).toBe('/b14');
    // Both logged (the order of the two commits within one batch is not part of the contract).
    expect(o.rows.map((r) => [r.action, r.host]).sort()).toEqual([
      ['allow', 'allowed.test'],
      ['block', 'blocked.example'],
    ]);
  });

  it('B14 pipelined blocked then allowed: the blocked one never taints the next, both logged', async () => {
    const o = await attack(
      get(`http://blocked.example:${ports.P}/b14`) +
        get(`http://allowed.test:${ports.P}/b14b`, ['Connection: close']),
      { responses: 2 },
    );
    const finals = o.ex.responses.filter((r) => r.status >= 200).map((r) => r.status);
    expect(finals, describeOutcome(o)).toEqual([403, 200]);
    expect(o.rows.map((r) => r.action).sort()).toEqual(['allow', 'block']);
  });

  it('B15 POST with Expect: 100-continue to a blocked host is blocked before the body is asked for', async () => {
    const o = await attack(
      [
        `POST http://blocked.example:${ports.P}/upload HTTP/1.1`,
        `Host: blocked.example:${ports.P}`,
        'Content-Type: text/plain',
        'Content-Length: 11',
        'Expect: 100-continue',
        '',
        '',
      ].join('\r\n'),
      { closeWaitMs: 200 },
    );
    expect(
      o.ex.responses.map((r) => r.status),
      'no 100 Continue before the block',
    ).toEqual([403]);
    expectBlocked(o);
    expect(o.rows[0]!.method).toBe('POST');
  });
});

// ---------------------------------------------------------------------------------------------------------
// C. CONNECT

describe('C. CONNECT', () => {
  it('C01 CONNECT blocked.example:443 → 200, block page over TLS, two rows, closed, no upstream connection', async () => {
    const o = await attack(connect('blocked.example:443'), { connect: true });
    const { tunnel, page } = expectBlockPage(o, 'blocked.example', 'category');
    expect(o.ex.handshake).toMatchObject({ verify: 'dns-name', leafNames: ['blocked.example'] });
    expect(o.ex.closed).toBe(true);
    expect(tunnel).toMatchObject({ method: 'CONNECT', port: 443, scheme: 'https' });
    expect(page).toMatchObject({ port: 443, scheme: 'https' });
  });

  it('C01 non-TLS bytes after the 200 of a blocked CONNECT: closed, never relayed, no further row', async () => {
    const rowMark = audit.mark();
    const before = markOrigin(origin);
    const ex = await talk(ports.X, connect(`blocked.example:${ports.P}`), { connect: true, keepOpen: true });
    const after: Buffer[] = [];
    try {
      expect(ex.status, ex.raw).toBe(200);
      expect(ex.raw).toBe('HTTP/1.1 200 Connection Established\r\n\r\n');
      const closed = new Promise<void>((resolve) => {
        ex.socket.on('data', (c: Buffer) => after.push(c));
        ex.socket.once('close', () => resolve());
        ex.socket.on('error', () => ex.socket.destroy());
      });
      ex.socket.write(`GET /c01 HTTP/1.1\r\nHost: blocked.example:${ports.P}\r\n\r\n`);
      await closed;
    } finally {
      ex.socket.destroy();
    }
    expect(Buffer.concat(after).toString('latin1'), 'nothing after the 200').toBe('');
    expect(originDelta(origin, before)).toEqual(NOTHING);
    const rows = audit.since(rowMark);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      kind: 'tunnel',
      method: 'CONNECT',
      action: 'block',
      host: 'blocked.example',
    });
    expect(rows[0]!.reason).toBe('block-page:category');
    expect([200, 403]).toContain(rows[0]!.status);
    if (rows[0]!.completed_ms !== null) expect(rows[0]!.status).toBe(403);
  });

  it.each([
    ['blocked.example', 'bad-request:'],
    ['allowed.test', 'bad-request:'],
    ['allowed.test:', 'bad-request:'],
    ['blocked.example:0', 'bad-request:'],
    ['allowed.test:0', 'bad-request:'],
    ['blocked.example:65536', 'bad-request:'],
    ['allowed.test:65536', 'bad-request:'],
    ['blocked.example:443/x', 'bad-request:'],
    ['allowed.test:443/x', 'bad-request:'],
    ['allowed.test:+443', 'bad-request:'],
    ['allowed.test:443:443', 'bad-request:'],
  ])('C02 CONNECT %s → 400, reject row, closed', async (authority, reason) => {
    const o = await attack(connect(authority), { connect: true });
    expectRejected(o, reason);
  });

  it.each([22, 25, 80])(
    'C03 CONNECT allowed.test:%i → 403 by port policy, logged, not connected',
    async (p) => {
      const o = await attack(connect(`allowed.test:${p}`), { connect: true });
      const row = expectBlocked(o, 'allowed.test', 'port');
      expect(row).toMatchObject({ method: 'CONNECT', port: p });
      expect(o.ex.closed).toBe(true);
    },
  );

  it('C03 an absolute-form request to a port outside httpPorts is refused by port policy, logged', async () => {
    const o = await attack(get('http://allowed.test:22/'));
    const row = expectBlocked(o, 'allowed.test', 'port');
    expect(row.port).toBe(22);
  });
});

// ---------------------------------------------------------------------------------------------------------
// D. Upgrades

const WS_HEADERS = [
  'Upgrade: websocket',
  'Connection: Upgrade',
  'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==',
  'Sec-WebSocket-Version: 13',
];

describe('D. upgrades', () => {
  it('D01 WebSocket upgrade to a blocked host → 403, block row, nothing forwarded', async () => {
    const o = await attack(get(`http://blocked.example:${ports.P}/ws`, WS_HEADERS));
    expectBlocked(o);
    expect(o.ex.closed).toBe(true);
  });

  it('D01 WebSocket upgrade to a loopback IP literal is denied', async () => {
    const o = await attack(get(`http://2130706433:${ports.P}/ws`, WS_HEADERS));
    verify(o, { kind: 'denied', host: '127.0.0.1' });
  });

  it('D01 WebSocket upgrade with two Host headers → 400', async () => {
    const o = await attack(
      get(`http://allowed.test:${ports.P}/ws`, ['Host: blocked.example', ...WS_HEADERS]),
    );
    expectRejected(o, 'bad-request:duplicate-host');
  });

  it('D02 h2c upgrade (Connection: Upgrade, HTTP2-Settings) → 400, reject row', async () => {
    const o = await attack(
      get(`http://allowed.test:${ports.P}/h2c`, [
        'Connection: Upgrade, HTTP2-Settings',
        'Upgrade: h2c',
        'HTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA',
      ]),
    );
    expectRejected(o, 'bad-request:upgrade-protocol');
  });

  it('D02 a bare "Upgrade: h2c" header (no Connection: Upgrade) is stripped or rejected', async () => {
    const o = await attack(get(`http://allowed.test:${ports.P}/h2c`, ['Upgrade: h2c', 'Connection: close']));
    if (o.ex.status === 400) return void expectRejected(o);
    expect(o.ex.status, describeOutcome(o)).toBe(200);
    expect(origin.completed.at(-1)!.headers.upgrade).toBeUndefined();
  });
});

// ---------------------------------------------------------------------------------------------------------
// G. The proxy itself and loopback through the proxy

describe('G01. loopback and the proxy itself, through the proxy', () => {
  it.each(['http://127.0.0.1:X/', 'http://localhost:X/', 'http://[::1]:X/'])(
    '%s is the proxy’s own page or denied, never forwarded',
    async (url) => {
      const o = await attack(get(url.replace('X', String(ports.X)), ['Connection: close']));
      expect(o.origin).toEqual(NOTHING);
      if (o.ex.status === 200) {
        expect(o.ex.final?.body).toContain('school web filter');
        expect(o.ex.final?.headers['x-origin']).toBeUndefined();
      } else {
        verify(o, { kind: 'denied' });
      }
    },
  );

  it.each([
    ['http://127.0.0.1:P/', '127.0.0.1'],
    ['http://localhost:P/', 'localhost'],
    ['http://LOCALHOST.:P/', 'localhost'],
    ['http://[::1]:P/', '::1'],
  ])('%s → denied, logged, never reaches the origin', async (url, host) => {
    const o = await attack(get(url.replace('P', String(ports.P))));
    verify(o, { kind: 'denied', host });
  });

  it('CONNECT localhost:P → denied, logged, never tunnelled', async () => {
    const o = await attack(connect(`localhost:${ports.P}`), { connect: true });
    verify(o, { kind: 'denied', host: 'localhost' });
  });

  it('CONNECT 127.0.0.1:X (the proxy’s own port) → denied, never tunnelled back into the proxy', async () => {
    const o = await attack(connect(`127.0.0.1:${ports.X}`), { connect: true });
    verify(o, { kind: 'denied', host: '127.0.0.1' });
  });
});

// ---------------------------------------------------------------------------------------------------------
// E01 Slowloris

describe('E01. slow headers', () => {
  it('a head sent in part and then stalled gets 408 within the headers timeout; others are served meanwhile', async () => {
    const rowMark = audit.mark();
    const before = markOrigin(origin);
    const slow = talk(
      ports.X,
      `GET http://allowed.test:${ports.P}/slow HTTP/1.1\r\nHost: allowed.test\r\nX-A: `,
      {
        timeoutMs: 25_000,
      },
    );
    // Another client is unaffected while the slow one hangs.
    const other = await talk(ports.X, get(`http://allowed.test:${ports.P}/meanwhile`, ['Connection: close']));
    expect(other.status).toBe(200);
    const ex = await slow;
    expect(ex.status, ex.raw).toBe(408);
    expect(ex.closed).toBe(true);
    // The 408 itself says the headers timeout fired (the client would otherwise see no answer at all);
    // how long it took depends on the machine's load, so it is not asserted.
    expect(originDelta(origin, before).started).toBe(1); // only the other client's request
    const rows = audit.since(rowMark).filter((r) => r.action !== 'allow');
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ action: 'reject', status: 408 });
    expect(rows[0]!.reason.startsWith('bad-request:')).toBe(true);
  });
});

// ---------------------------------------------------------------------------------------------------------
// Never a crash

describe('after the whole battery', () => {
  it('the proxy is alive: an ordinary allowed request works and /healthz is ok', async () => {
    expect(sg.proxy.server.listening).toBe(true);
    const o = await attack(get(`http://allowed.test:${ports.P}/still-alive`, ['Connection: close']));
    expect(o.ex.status, describeOutcome(o)).toBe(200);
    expect(o.ex.final?.body).toBe(ORIGIN_TEXT);
    expect(o.rows).toMatchObject([{ action: 'allow', host: 'allowed.test', path: '/still-alive' }]);
    const health = await talk(
      ports.X,
      'GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n',
    );
    expect(health.status).toBe(200);
    expect(JSON.parse(health.final!.body)).toMatchObject({ status: 'ok' });
  });
});

// ---------------------------------------------------------------------------------------------------------
// Other proxies: a client outside clientNetworks; a profile that allows IP literals (address checks)

describe('a client outside clientNetworks', () => {
  let other: RunningSchoolgate;
  let otherAudit: AuditReader;
  beforeAll(async () => {
    other = await startTestProxy(
      testConfig({ clientNetworks: ['10.0.0.0/8'], httpPorts: [origin.port], tunnelPorts: [origin.port] }),
    );
    otherAudit = new AuditReader(other.auditPath);
  });
  afterAll(async () => {
    await other?.stop();
  });

  const expectRefused = (o: Outcome) => {
    expect(o.ex.status, describeOutcome(o)).toBe(403);
    expect(o.origin).toEqual(NOTHING);
    expect(o.rows).toHaveLength(1);
    expect(o.rows[0]).toMatchObject({ action: 'refused', reason: 'client-network', status: 403 });
    expect(o.rows[0]!.client_ip).toBe('127.0.0.1');
  };

  it('an allowed absolute-form request → 403 refused, refused row, nothing forwarded', async () => {
    const at = targetOf(other, otherAudit);
    expectRefused(await attack(get(`http://allowed.test:${ports.P}/`), {}, at));
  });

  it('CONNECT to an allowed host → 403 refused, refused row, not tunnelled', async () => {
    const at = targetOf(other, otherAudit);
    const o = await attack(connect(`notblocked.example:${ports.P}`), { connect: true }, at);
    expectRefused(o);
    expect(o.ex.closed).toBe(true);
  });

  it('a WebSocket upgrade → 403 refused, refused row', async () => {
    const at = targetOf(other, otherAudit);
    expectRefused(await attack(get(`http://allowed.test:${ports.P}/ws`, WS_HEADERS), {}, at));
  });
});

describe('A09/A15 with a profile that allows IP literals: loopback and private addresses are still refused', () => {
  let lenient: RunningSchoolgate;
  let lenientAudit: AuditReader;
  beforeAll(async () => {
    lenient = await startTestProxy(
      testConfig({
        httpPorts: [origin.port],
        tunnelPorts: [origin.port],
        profiles: {
          replace: true,
          guest: { categories: { adult: 'block' }, ipLiterals: 'allow' },
        },
      }),
    );
    lenientAudit = new AuditReader(lenient.auditPath);
  });
  afterAll(async () => {
    await lenient?.stop();
  });

  it.each([
    ['http', '2130706433', '127.0.0.1'],
    ['http', '127.1', '127.0.0.1'],
    ['http', '0x7f.1', '127.0.0.1'],
    ['http', '0', '0.0.0.0'],
    ['http', '[::1]', '::1'],
    ['http', '[::ffff:7f00:1]', '127.0.0.1'],
    ['http', '[::]', '::'],
    ['http', '[fec0::1]', 'fec0::1'], // IPv6 site-local (issue 11)
    ['http', '[FEC0:0:0:0:0:0:0:1]', 'fec0::1'],
    ['connect', '2130706433', '127.0.0.1'],
    ['connect', '[::1]', '::1'],
    ['connect', '[::ffff:7f00:1]', '127.0.0.1'],
    ['connect', '0', '0.0.0.0'],
    ['connect', '[fec0::1]', 'fec0::1'],
    ['connect', '[feff:ffff::1]', 'feff:ffff::1'],
  ])('%s %s:P → 403 forbidden-address, logged as %s, never connected', async (kind, host, logged) => {
    const at = targetOf(lenient, lenientAudit);
    const bytes = kind === 'http' ? get(`http://${host}:${ports.P}/a15`) : connect(`${host}:${ports.P}`);
    const o = await attack(bytes, { connect: kind === 'connect' }, at);
    expectBlocked(o, logged, 'forbidden-address');
  });
});
