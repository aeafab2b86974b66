/**
 * Safeguarding alerts through the running proxy (issue 9): real requests, the real audit database, a
 * loopback webhook receiver and a loopback SMTP server (STARTTLS, AUTH) standing in for the school's.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { queryAlerts, type StoredAlert } from '../../../src/audit/index.js';
import type { RunningSchoolgate } from '../../../src/app/start.js';
import type { ConfigInput } from '../../../src/config/schema.js';
import {
  closedPort,
  loopbackCert,
  startSmtpReceiver,
  startWebhookReceiver,
  type ReceivedPost,
  type SmtpReceiver,
  type WebhookReceiver,
} from '../../helpers/alert-receivers.js';
import { addAlertCategory, loopbackEmailSink } from '../../helpers/alert-setup.js';
import { startOrigin, type Origin } from '../../helpers/origin.js';
import { viaProxy } from '../../helpers/raw-http.js';
import { startTestProxy, tempDir, testConfig } from '../../helpers/schoolgate.js';

const SECRET = 'whsec-alerts-through-the-proxy-01';
const SMTP_USER = 'dsl-relay';
const SMTP_PASS = 'relay-pw-8Hq!2mZx';

const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

interface Setup {
  proxy: RunningSchoolgate;
  origin: Origin;
  webhook: WebhookReceiver | null;
  smtp: SmtpReceiver | null;
  dir: string;
}

/** A proxy with an `extremism` category marked `alert`, google routed to the loopback origin. */
async function setup(opts: {
  profile: string;
  webhookUrl?: 'receiver' | 'down';
  email?: boolean;
  alerts?: ConfigInput['alerts'];
}): Promise<Setup> {
  const dir = tempDir('sg-proxy-alerts-');
  const origin = await startOrigin();
  cleanup.push(() => origin.close());
  const secretFile = path.join(dir, 'webhook.secret');
  writeFileSync(secretFile, SECRET, { mode: 0o600 });

  let webhook: WebhookReceiver | null = null;
  let webhookUrl: string | undefined;
  if (opts.webhookUrl === 'receiver') {
    webhook = await startWebhookReceiver();
    cleanup.push(() => webhook!.close());
    webhookUrl = webhook.url;
  } else if (opts.webhookUrl === 'down') {
    webhookUrl = `http://127.0.0.1:${await closedPort()}/hook`;
  }
  let smtp: SmtpReceiver | null = null;
  const cert = loopbackCert(dir);
  if (opts.email) {
    smtp = await startSmtpReceiver({ tls: cert, user: SMTP_USER, pass: SMTP_PASS });
    cleanup.push(() => smtp!.close());
  }

  const config = testConfig(
    {
      httpPorts: [origin.port],
      hosts: { 'www.google.com': '127.0.0.1', 'hate.test': '127.0.0.1' },
      identity: { networks: [{ cidr: '127.0.0.0/8', profile: opts.profile }] },
      profiles: {
        replace: true,
        pupil: { categories: { extremism: 'block', adult: 'block', gambling: 'block' } },
        staff: { categories: { adult: 'block' } },
        guest: { default: 'block' },
      },
      alerts: {
        ...(webhookUrl
          ? {
              webhook: { url: webhookUrl, secretFile, initialBackoffMs: 5, maxBackoffMs: 20, maxAttempts: 3 },
            }
          : {}),
        ...(smtp
          ? {
              email: loopbackEmailSink({
                dir,
                port: smtp.port,
                caFile: cert.file,
                user: SMTP_USER,
                pass: SMTP_PASS,
              }),
            }
          : {}),
        ...opts.alerts,
      },
    },
    dir,
  );
  // One category of our own, marked `alert` like the shipped extremism list.
  addAlertCategory(config.categoriesDir, 'extremism', 'Extremism', ['hate.test']);
  const proxy = await startTestProxy(config);
  cleanup.push(() => proxy.stop());
  return { proxy, origin, webhook, smtp, dir };
}

function alertsIn(auditPath: string): StoredAlert[] {
  const db = new Database(auditPath, { readonly: true });
  try {
    return queryAlerts(db);
  } finally {
    db.close();
  }
}

function signatureValid(post: ReceivedPost): boolean {
  const ts = post.headers['x-schoolgate-timestamp'];
  const sig = post.headers['x-schoolgate-signature'];
  if (typeof ts !== 'string' || typeof sig !== 'string') return false;
  const expected = createHmac('sha256', SECRET).update(`${ts}.${post.raw}`).digest();
  const got = Buffer.from(sig.replace(/^sha256=/, ''), 'hex');
  return got.length === expected.length && timingSafeEqual(got, expected);
}

const search = (port: number, term: string) =>
  `http://www.google.com:${port}/search?q=${encodeURIComponent(term).replace(/%20/g, '+')}`;

describe('alerts through the running proxy', () => {
  it('a pupil searching "how to k1ll myself" raises one danger alert: table, signed webhook, e-mail', async () => {
    const s = await setup({ profile: 'pupil', webhookUrl: 'receiver', email: true });
    const res = await viaProxy(s.proxy.address.port, search(s.origin.port, 'how to k1ll myself'));
    expect(res.status).toBe(200);

    const [post] = await s.webhook!.waitFor(1);
    expect(signatureValid(post!)).toBe(true);
    const body = (JSON.parse(post!.raw) as { alert: Record<string, unknown> }).alert;
    expect(body).toMatchObject({
      severity: 'danger',
      rule: 'keyword:selfharm',
      searchTerm: 'how to k1ll myself',
    });

    const [mail] = await s.smtp!.waitFor(1);
    expect(mail!.secure).toBe(true);
    expect(mail!.parsed.text).toContain('how to k1ll myself');
    expect(String(mail!.parsed.html)).not.toMatch(/<a\s/i); // harmful URLs are never clickable

    await s.proxy.stop();
    const alerts = alertsIn(s.proxy.auditPath);
    expect(alerts).toHaveLength(1);
    expect(alerts[0]).toMatchObject({
      severity: 'danger',
      rule: 'keyword:selfharm',
      list: 'selfharm',
      profile: 'pupil',
      clientIp: '127.0.0.1',
      searchTerm: 'how to k1ll myself',
      count: 1,
      status: 'open',
    });
    expect(alerts[0]!.auditRowIds).toHaveLength(1);
    expect(body['id']).toBe(alerts[0]!.id);
  });

  it('ten such searches in a minute are one alert with count 10, sent once', async () => {
    const s = await setup({ profile: 'pupil', webhookUrl: 'receiver' });
    for (let i = 0; i < 10; i++) {
      const res = await viaProxy(s.proxy.address.port, search(s.origin.port, 'how to k1ll myself'));
      expect(res.status).toBe(200);
    }
    await s.webhook!.waitFor(1);
    await s.proxy.stop(); // writes the counts still waiting
    const alerts = alertsIn(s.proxy.auditPath);
    expect(alerts).toHaveLength(1);
    expect(alerts[0]!.count).toBe(10);
    expect(new Set(alerts[0]!.auditRowIds).size).toBe(10);
    expect(s.webhook!.received).toHaveLength(1);
  });

  it('innocent searches raise nothing; autocomplete fetches are not searches', async () => {
    const s = await setup({ profile: 'pupil' });
    for (const term of ['killer whale facts', 'skill builder', 'scunthorpe united'])
      expect((await viaProxy(s.proxy.address.port, search(s.origin.port, term))).status).toBe(200);
    const suggest = `http://www.google.com:${s.origin.port}/complete/search?q=how+to+k1ll+myself`;
    expect((await viaProxy(s.proxy.address.port, suggest)).status).toBe(200);
    await s.proxy.stop();
    expect(alertsIn(s.proxy.auditPath)).toEqual([]);
  });

  it('a webhook that is down neither fails nor holds the request, and the alert is retried', async () => {
    const s = await setup({ profile: 'pupil', webhookUrl: 'down' });
    const webhook = s.proxy.alerts.sinks.sinks.find((k) => k.name === 'webhook') as unknown as {
      events: NodeJS.EventEmitter;
      stats(): { failedAttempts: number; deadLetters: number };
    };
    const dead = once(webhook.events, 'dead-letter');
    const res = await viaProxy(s.proxy.address.port, search(s.origin.port, 'how to k1ll myself'));
    expect(res.status).toBe(200);
    expect(res.body).toContain('hello from the origin');
    await dead; // three attempts, then given up: counted where the technician sees it
    expect(webhook.stats()).toMatchObject({ failedAttempts: 3, deadLetters: 1 });
    expect(s.proxy.alerts.sinks.deadLetters).toBe(1);
    await s.proxy.stop();
    expect(alertsIn(s.proxy.auditPath)).toHaveLength(1); // the table has it whatever the webhook did
  });

  it('staff allowed onto an extremism-category host still raise a category alert', async () => {
    const s = await setup({ profile: 'staff', webhookUrl: 'receiver' });
    const res = await viaProxy(s.proxy.address.port, `http://hate.test:${s.origin.port}/manifesto`);
    expect(res.status).toBe(200); // allowed: staff may reach it
    const [post] = await s.webhook!.waitFor(1);
    expect(JSON.parse(post!.raw)).toMatchObject({
      type: 'schoolgate.alert',
      alert: { rule: 'category:extremism', severity: 'danger' },
    });
    await s.proxy.stop();
    const [alert] = alertsIn(s.proxy.auditPath);
    expect(alert).toMatchObject({ rule: 'category:extremism', profile: 'staff', count: 1 });
    expect(alert!.url).toBe(`http://hate.test:${s.origin.port}/manifesto`);
  });

  it('repeated blocked attempts at flagged sites raise a repeated-attempts alert', async () => {
    const s = await setup({ profile: 'pupil', alerts: { repeated: { attempts: 3, withinMinutes: 10 } } });
    for (const host of ['blocked.example', 'a.b.blocked.example', 'bet.test'])
      expect((await viaProxy(s.proxy.address.port, `http://${host}:${s.origin.port}/`)).status).toBe(403);
    await s.proxy.stop();
    const alerts = alertsIn(s.proxy.auditPath);
    expect(alerts.map((a) => a.rule)).toEqual(['repeated:blocked-flagged']);
    expect(alerts[0]!.severity).toBe('warning');
  });

  it('alerts.enabled: false raises nothing', async () => {
    const s = await setup({ profile: 'pupil', alerts: { enabled: false } });
    await viaProxy(s.proxy.address.port, search(s.origin.port, 'how to k1ll myself'));
    await s.proxy.stop();
    expect(alertsIn(s.proxy.auditPath)).toEqual([]);
  });

  it('wrong passwords until the throttle answers raise one advisory alert (someone guessing)', async () => {
    const origin = await startOrigin();
    cleanup.push(() => origin.close());
    const config = testConfig({
      httpPorts: [origin.port],
      identity: { basicAuth: true, requireAuth: true },
    });
    const proxy = await startTestProxy(config);
    cleanup.push(() => proxy.stop());
    const statuses: number[] = [];
    for (let i = 0; i < 8; i++) {
      const res = await viaProxy(proxy.address.port, `http://allowed.test:${origin.port}/`, {
        headers: { 'proxy-authorization': `Basic ${Buffer.from(`staff1:guess-${i}`).toString('base64')}` },
      });
      statuses.push(res.status);
    }
    expect(statuses.filter((s) => s === 429).length).toBeGreaterThanOrEqual(2);
    await proxy.stop();
    const alerts = alertsIn(proxy.auditPath);
    expect(alerts).toHaveLength(1);
    expect(alerts[0]).toMatchObject({
      rule: 'auth:throttled',
      severity: 'advisory',
      clientIp: '127.0.0.1',
      user: null, // a failed login identifies nobody
      phrase: 'login as staff1',
    });
    expect(alerts[0]!.count).toBe(statuses.filter((s) => s === 429).length);
  });
});
