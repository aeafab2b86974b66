/**
 * The alert sinks against real servers on loopback: a webhook receiver (signature checked here with the
 * secret, independently of the sink's own signing code), scripted failures and retries, a closed port, a
 * bounded queue, and an SMTP server with STARTTLS on a throwaway certificate. Every wait is on an event
 * (a request seen, a mail parsed, a dead letter emitted); no assertion is about how long anything took.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { emailSinkSchema, webhookSinkSchema } from '../../../src/alerts/sinks/config.js';
import { createEmailSink } from '../../../src/alerts/sinks/email.js';
import { createAlertSinks, makeTestAlert, testSinks } from '../../../src/alerts/sinks/index.js';
import type { Alert } from '../../../src/alerts/sinks/types.js';
import { createWebhookSink } from '../../../src/alerts/sinks/webhook.js';
import {
  capturedLogger,
  closedPort,
  loopbackCert,
  startSmtpReceiver,
  startWebhookReceiver,
  type ReceivedPost,
} from '../../helpers/alert-receivers.js';

const WEBHOOK_SECRET = 'whsec-7f3a9c2e1b8d4f6a0c5e9b2d';
const SMTP_USER = 'schoolgate-alerts';
const SMTP_PASS = 'smtp-pw-Q9v!x2#Lr8zT';
const FAST = { initialBackoffMs: 5, maxBackoffMs: 20 };

let dir: string;
let secretFile: string;
let smtpPassFile: string;
const log = capturedLogger();

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'sg-alert-sinks-'));
  secretFile = path.join(dir, 'webhook.secret');
  writeFileSync(secretFile, `${WEBHOOK_SECRET}\n`, { mode: 0o600 });
  smtpPassFile = path.join(dir, 'smtp.password');
  writeFileSync(smtpPassFile, `${SMTP_PASS}\n`, { mode: 0o600 });
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

let seq = 0;
function alert(over: Partial<Alert> = {}): Alert {
  const now = Date.UTC(2025, 2, 3, 9, 14, 2);
  seq += 1;
  return {
    id: `0195b2c4-0000-7000-8000-${String(seq).padStart(12, '0')}`,
    user: 'pupil1',
    profile: 'pupil',
    device: 'LAB-PC-07',
    clientIp: '10.1.2.3',
    firstTime: now,
    lastTime: now + 60_000,
    count: 3,
    rule: 'keyword:selfharm',
    list: 'selfharm',
    severity: 'danger',
    url: 'https://self-harm.example/forum/thread.php?id=1',
    searchTerm: 'how to k1ll myself',
    auditRowIds: ['0195b2c4-aaaa-7000-8000-000000000001', '0195b2c4-aaaa-7000-8000-000000000002'],
    ...over,
  };
}

/** Checks the signature as a receiver would: HMAC-SHA256(secret, "<timestamp>.<raw body>"). */
function signatureValid(post: ReceivedPost, secret: string): boolean {
  const ts = post.headers['x-schoolgate-timestamp'];
  const sig = post.headers['x-schoolgate-signature'];
  if (typeof ts !== 'string' || typeof sig !== 'string' || !sig.startsWith('sha256=')) return false;
  const expected = createHmac('sha256', secret).update(`${ts}.${post.raw}`).digest();
  const got = Buffer.from(sig.slice('sha256='.length), 'hex');
  return got.length === expected.length && timingSafeEqual(got, expected);
}

function webhookConfig(url: string, over: Record<string, unknown> = {}) {
  return webhookSinkSchema.parse({ url, secretFile, ...FAST, ...over });
}

describe('webhook sink', () => {
  it('POSTs the alert as JSON with a valid, timestamped HMAC-SHA256 signature', async () => {
    const receiver = await startWebhookReceiver();
    const sink = createWebhookSink({ config: webhookConfig(receiver.url), logger: log.logger });
    try {
      const a = alert();
      const delivered = once(sink.events, 'delivered');
      expect(sink.send(a)).toBeUndefined();
      const [post] = await receiver.waitFor(1);
      await delivered;

      expect(post!.headers['content-type']).toBe('application/json');
      expect(signatureValid(post!, WEBHOOK_SECRET)).toBe(true);
      // The timestamp is part of the signed content: the same body under another timestamp does not verify.
      expect(
        signatureValid(
          { ...post!, headers: { ...post!.headers, 'x-schoolgate-timestamp': '1' } },
          WEBHOOK_SECRET,
        ),
      ).toBe(false);
      expect(signatureValid(post!, 'another-secret-entirely')).toBe(false);
      const ts = Number(post!.headers['x-schoolgate-timestamp']);
      expect(Math.abs(ts - Date.now() / 1000)).toBeLessThan(300); // fresh, as a receiver checks against replay
      expect(post!.headers['x-schoolgate-alert-id']).toBe(a.id);

      const body = JSON.parse(post!.raw) as { type: string; test: boolean; alert: Record<string, unknown> };
      expect(body.type).toBe('schoolgate.alert');
      expect(body.test).toBe(false);
      expect(body.alert).toMatchObject({
        id: a.id,
        user: 'pupil1',
        profile: 'pupil',
        device: 'LAB-PC-07',
        clientIp: '10.1.2.3',
        severity: 'danger',
        rule: 'keyword:selfharm',
        list: 'selfharm',
        count: 3,
        firstTime: a.firstTime,
        lastTime: a.lastTime,
        firstTimeIso: '2025-03-03T09:14:02.000Z',
        url: a.url,
        urlDefanged: 'hxxps://self-harm[.]example/forum/thread[.]php?id=1',
        searchTerm: 'how to k1ll myself',
        auditRowIds: [...a.auditRowIds],
      });
      expect(sink.stats()).toMatchObject({ queued: 0, delivered: 1, failedAttempts: 0, deadLetters: 0 });
    } finally {
      await sink.close();
      await receiver.close();
    }
  });

  it('retries after 500, 500 and delivers on the third attempt (secret from the environment)', async () => {
    const receiver = await startWebhookReceiver((n) => (n <= 2 ? 500 : 200));
    const sink = createWebhookSink({
      config: webhookSinkSchema.parse({ url: receiver.url, secretEnv: 'SG_TEST_WEBHOOK_SECRET', ...FAST }),
      logger: log.logger,
      env: { SG_TEST_WEBHOOK_SECRET: WEBHOOK_SECRET },
    });
    try {
      const retries: number[] = [];
      sink.events.on('retry', (_a, attempt) => retries.push(attempt));
      const delivered = once(sink.events, 'delivered');
      const a = alert();
      sink.send(a);
      const posts = await receiver.waitFor(3);
      const [, attempt] = (await delivered) as [Alert, number];

      expect(attempt).toBe(3);
      expect(retries).toEqual([1, 2]);
      expect(posts.map((p) => p.headers['x-schoolgate-attempt'])).toEqual(['1', '2', '3']);
      for (const p of posts) {
        expect(signatureValid(p, WEBHOOK_SECRET)).toBe(true);
        expect(p.headers['x-schoolgate-alert-id']).toBe(a.id);
      }
      expect(sink.stats()).toMatchObject({ queued: 0, delivered: 1, failedAttempts: 2, deadLetters: 0 });
      expect(sink.stats().lastError).toContain('HTTP 500');
    } finally {
      await sink.close();
      await receiver.close();
    }
  });

  it('a down webhook: send() returns at once, and after maxAttempts the alert is a dead letter', async () => {
    const port = await closedPort();
    const sink = createWebhookSink({
      config: webhookConfig(`http://127.0.0.1:${port}/hook`, { maxAttempts: 3 }),
      logger: log.logger,
    });
    try {
      const dead = once(sink.events, 'dead-letter');
      const a = alert();
      expect(sink.send(a)).toBeUndefined();
      // Nothing was attempted yet when send() returned: delivery happens on a later turn of the event loop.
      expect(sink.stats()).toMatchObject({ queued: 1, delivered: 0, failedAttempts: 0, deadLetters: 0 });

      const [deadAlert, reason] = (await dead) as [Alert, string];
      expect(deadAlert.id).toBe(a.id);
      expect(reason).toMatch(/^3 attempts failed/);
      expect(sink.stats()).toMatchObject({ queued: 0, delivered: 0, failedAttempts: 3, deadLetters: 1 });
      expect(sink.stats().lastError).toContain('ECONNREFUSED');
    } finally {
      await sink.close();
    }
  });

  it('a refusal (HTTP 401) is not retried: one attempt, then a dead letter', async () => {
    const receiver = await startWebhookReceiver(() => 401);
    const sink = createWebhookSink({ config: webhookConfig(receiver.url), logger: log.logger });
    try {
      const dead = once(sink.events, 'dead-letter');
      sink.send(alert());
      const [, reason] = (await dead) as [Alert, string];
      expect(reason).toContain('HTTP 401');
      expect(receiver.received).toHaveLength(1);
      expect(sink.stats()).toMatchObject({ failedAttempts: 1, deadLetters: 1, delivered: 0 });
    } finally {
      await sink.close();
      await receiver.close();
    }
  });

  it('the queue is bounded: on a full queue the oldest alert is dropped into the dead letters, logged', async () => {
    const port = await closedPort();
    const sink = createWebhookSink({
      config: webhookConfig(`http://127.0.0.1:${port}/hook`, {
        queueLimit: 2,
        initialBackoffMs: 600_000,
        maxBackoffMs: 600_000,
      }),
      logger: log.logger,
    });
    const dropped: string[] = [];
    sink.events.on('dead-letter', (a, reason) => dropped.push(`${a.id} ${reason}`));
    const [a1, a2, a3] = [alert(), alert(), alert()];
    sink.send(a1);
    sink.send(a2);
    sink.send(a3);
    expect(sink.stats()).toMatchObject({ queued: 2, deadLetters: 1 });
    expect(dropped).toEqual([`${a1.id} queue full: oldest waiting alert dropped`]);
    const line = log.lines().find((l) => l.alert === a1.id && l.msg === 'alert not delivered (dead letter)');
    expect(line).toMatchObject({ sink: 'webhook', reason: 'queue full: oldest waiting alert dropped' });

    // What is still queued at shutdown is counted too, not silently lost.
    await sink.close();
    expect(sink.stats()).toMatchObject({ queued: 0, deadLetters: 3 });
  });
});

describe('e-mail sink (SMTP with STARTTLS)', () => {
  let cert: ReturnType<typeof loopbackCert>;
  beforeAll(() => {
    cert = loopbackCert(dir);
  });

  function emailConfig(port: number, over: Record<string, unknown> = {}) {
    return emailSinkSchema.parse({
      host: '127.0.0.1',
      port,
      from: 'Schoolgate <schoolgate@school.example>',
      to: ['dsl@school.example', 'deputy.dsl@school.example'],
      user: SMTP_USER,
      passwordFile: smtpPassFile,
      caFile: cert.file,
      ...FAST,
      ...over,
    });
  }

  it('mails the DSL over STARTTLS: subject, defanged URL, search term, escaped HTML with no link', async () => {
    const smtp = await startSmtpReceiver({ tls: cert, user: SMTP_USER, pass: SMTP_PASS });
    const sink = createEmailSink({
      config: emailConfig(smtp.port),
      logger: log.logger,
      timeZone: 'Europe/London',
    });
    try {
      const hostile = 'how to k1ll myself <script>alert(1)</script>';
      const a = alert({ searchTerm: hostile });
      const delivered = once(sink.events, 'delivered');
      sink.send(a);
      const [mail] = await smtp.waitFor(1);
      await delivered;

      expect(mail!.secure).toBe(true); // upgraded with STARTTLS before AUTH and DATA
      expect(mail!.user).toBe(SMTP_USER);
      expect(mail!.from).toBe('schoolgate@school.example');
      expect(mail!.to).toEqual(['dsl@school.example', 'deputy.dsl@school.example']);
      const parsed = mail!.parsed;
      expect(parsed.subject).toBe('[schoolgate] DANGER: keyword:selfharm - pupil1 (3 times)');
      expect(parsed.headers.get('x-schoolgate-alert-id')).toBe(a.id);

      const text = parsed.text ?? '';
      expect(text).toContain('hxxps://self-harm[.]example/forum/thread[.]php?id=1');
      expect(text).not.toContain('https://self-harm.example');
      expect(text).not.toContain('self-harm.example');
      expect(text).toContain(hostile);
      expect(text).toContain('pupil1');
      expect(text).toContain('LAB-PC-07 (10.1.2.3)');
      expect(text).toContain(a.id);

      const html = typeof parsed.html === 'string' ? parsed.html : '';
      expect(html).toContain('Safeguarding alert');
      expect(html).not.toMatch(/<a[\s>]/i);
      expect(html).not.toMatch(/href/i);
      expect(html).not.toContain('<script');
      expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
      expect(html).toContain('hxxps://self-harm[.]example/forum/thread[.]php?id=1');
      expect(html).not.toContain('self-harm.example');
      expect(sink.stats()).toMatchObject({ delivered: 1, deadLetters: 0 });
    } finally {
      await sink.close();
      await smtp.close();
    }
  });

  it('will not send where STARTTLS is refused (no plain-text fallback): a dead letter, nothing received', async () => {
    const smtp = await startSmtpReceiver({ tls: cert, user: SMTP_USER, pass: SMTP_PASS, noStartTls: true });
    const sink = createEmailSink({ config: emailConfig(smtp.port), logger: log.logger });
    try {
      const dead = once(sink.events, 'dead-letter');
      sink.send(alert());
      const [, reason] = (await dead) as [Alert, string];
      // The server's 5xx to STARTTLS is permanent: no point retrying a server that cannot do TLS.
      expect(reason).toMatch(/^refused: .*STARTTLS/);
      expect(sink.stats()).toMatchObject({ failedAttempts: 1, deadLetters: 1, delivered: 0 });
      expect(smtp.received).toHaveLength(0);
      expect(smtp.authAttempts).toHaveLength(0); // the password never went over the clear connection
    } finally {
      await sink.close();
      await smtp.close();
    }
  });

  it("verifies the server's certificate: without the CA file the self-signed server is refused", async () => {
    const smtp = await startSmtpReceiver({ tls: cert, user: SMTP_USER, pass: SMTP_PASS });
    const config = emailConfig(smtp.port, { maxAttempts: 1 });
    delete (config as { caFile?: string }).caFile;
    const sink = createEmailSink({ config, logger: log.logger });
    try {
      const dead = once(sink.events, 'dead-letter');
      sink.send(alert());
      const [, reason] = (await dead) as [Alert, string];
      expect(reason).toMatch(/self[- ]signed|certificate/i);
      expect(smtp.received).toHaveLength(0);
      expect(smtp.authAttempts).toHaveLength(0);
    } finally {
      await sink.close();
      await smtp.close();
    }
  });

  it('a wrong password is a permanent refusal; the failure is logged without the password', async () => {
    const wrongFile = path.join(dir, 'smtp.wrong');
    const wrong = 'wrong-pw-Zk3#m9Qx';
    writeFileSync(wrongFile, wrong, { mode: 0o600 });
    const smtp = await startSmtpReceiver({ tls: cert, user: SMTP_USER, pass: SMTP_PASS });
    const own = capturedLogger();
    const sink = createEmailSink({
      config: emailConfig(smtp.port, { passwordFile: wrongFile }),
      logger: own.logger,
    });
    try {
      const dead = once(sink.events, 'dead-letter');
      sink.send(alert());
      const [, reason] = (await dead) as [Alert, string];
      expect(reason).toMatch(/^refused: .*535/);
      expect(smtp.authAttempts).toEqual([SMTP_USER]);
      expect(own.text()).toContain('alert not delivered (dead letter)');
      for (const s of [
        wrong,
        Buffer.from(wrong).toString('base64'),
        Buffer.from(`\0${SMTP_USER}\0${wrong}`).toString('base64'),
      ]) {
        expect(own.text()).not.toContain(s);
      }
    } finally {
      await sink.close();
      await smtp.close();
    }
  });
});

describe('testSinks and the fan-out', () => {
  it('sends a test alert through every configured sink and reports each ok or error', async () => {
    const receiver = await startWebhookReceiver();
    const cert = loopbackCert(dir);
    const good = await startSmtpReceiver({ tls: cert, user: SMTP_USER, pass: SMTP_PASS });
    const plainOnly = await startSmtpReceiver({
      tls: cert,
      user: SMTP_USER,
      pass: SMTP_PASS,
      noStartTls: true,
    });
    const common = {
      host: '127.0.0.1',
      from: 'schoolgate@school.example',
      to: ['dsl@school.example'],
      user: SMTP_USER,
      passwordEnv: 'SG_TEST_SMTP_PASSWORD',
      caFile: cert.file,
      ...FAST,
    };
    const env = { SG_TEST_SMTP_PASSWORD: SMTP_PASS };
    const working = createAlertSinks(
      { webhook: webhookConfig(receiver.url), email: emailSinkSchema.parse({ ...common, port: good.port }) },
      { logger: log.logger, env },
    );
    const broken = createAlertSinks(
      { webhook: null, email: emailSinkSchema.parse({ ...common, port: plainOnly.port }) },
      { logger: log.logger, env },
    );
    try {
      expect(await testSinks(working)).toEqual([
        { sink: 'log', ok: true },
        { sink: 'webhook', ok: true },
        { sink: 'email', ok: true },
      ]);
      const [post] = await receiver.waitFor(1);
      expect(signatureValid(post!, WEBHOOK_SECRET)).toBe(true);
      expect(JSON.parse(post!.raw)).toMatchObject({ test: true, alert: { rule: 'test' } });
      const [mail] = await good.waitFor(1);
      expect(mail!.parsed.subject).toBe('[schoolgate] [TEST] ADVISORY: test - schoolgate-test');
      expect(mail!.parsed.text).toContain('test alert');

      const results = await testSinks(broken);
      expect(results[0]).toEqual({ sink: 'log', ok: true });
      expect(results[1]).toMatchObject({ sink: 'email', ok: false });
      expect(results[1]!.error).toMatch(/STARTTLS/i);
      expect(plainOnly.received).toHaveLength(0);

      // The fan-out: one send reaches every sink; counts and dead letters are readable for status/metrics.
      const delivered = once((working.sinks[1] as ReturnType<typeof createWebhookSink>).events, 'delivered');
      working.send(makeTestAlert());
      await delivered;
      await good.waitFor(2);
      expect(working.stats().webhook).toMatchObject({ delivered: 1, deadLetters: 0 });
      expect(working.deadLetters).toBe(0);
    } finally {
      await working.close();
      await broken.close();
      await receiver.close();
      await good.close();
      await plainOnly.close();
    }
  });

  it('a missing secret is a start-up error naming the variable, never a value', () => {
    expect(() =>
      createAlertSinks(
        {
          webhook: webhookSinkSchema.parse({ url: 'https://hooks.school.example/x', secretEnv: 'SG_NOPE' }),
          email: null,
        },
        { logger: log.logger, env: {} },
      ),
    ).toThrow(/alerts\.webhook\.secretFile: \$SG_NOPE is not set/);
  });

  // Last: everything above logged into `log` at trace level, failures included.
  it('no secret appears anywhere in the log', () => {
    const text = log.text();
    expect(text).toContain('will retry'); // the log did capture the failures
    expect(text).toContain('alert e-mail sink ready');
    for (const secret of [
      WEBHOOK_SECRET,
      SMTP_PASS,
      Buffer.from(SMTP_PASS).toString('base64'),
      Buffer.from(`\0${SMTP_USER}\0${SMTP_PASS}`).toString('base64'),
    ]) {
      expect(text).not.toContain(secret);
    }
    // Nor the content of an alert: the log says who and which rule, the DSL's channels carry the rest.
    expect(text).not.toContain('k1ll');
    expect(text).not.toContain('self-harm.example');
  });
});
