/**
 * The scheduled digest through the running proxy (issue 9, item 5): real requests raise real alerts and
 * flagged rows in the real audit database; a test clock moves the scheduler to the configured time; a
 * loopback SMTP server (STARTTLS, AUTH) receives the mail; report_access records the send.
 */
import { once } from 'node:events';
import Database from 'better-sqlite3';
import { pino, type Logger } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { DigestScheduler } from '../../../src/alerts/digest/index.js';
import { nextRunAt, periodOf } from '../../../src/alerts/digest/schedule.js';
import { startSchoolgate, type RunningSchoolgate } from '../../../src/app/start.js';
import type { ReadonlyConfig } from '../../../src/config/load.js';
import { listAccess } from '../../../src/audit/report-access.js';
import { UserStore } from '../../../src/identity/user-store.js';
import { addDays } from '../../../src/reports/time.js';
import {
  capturedLogger,
  closedPort,
  loopbackCert,
  startSmtpReceiver,
  type ReceivedMail,
  type SmtpReceiver,
} from '../../helpers/alert-receivers.js';
import { addAlertCategory, digestDayAfterTomorrow, loopbackEmailSink } from '../../helpers/alert-setup.js';
import { startOrigin, type Origin } from '../../helpers/origin.js';
import { basic, viaProxy } from '../../helpers/raw-http.js';
import { FIXTURE_PROFILES, tempDir, testConfig } from '../../helpers/schoolgate.js';
import { TestClock } from '../../helpers/test-clock.js';

const ZONE = 'Europe/London';
const SMTP_USER = 'dsl-relay';
const SMTP_PASS = 'relay-pw-digest-7Yq';
const PUPIL = basic('pupil1', 'pupil-password');
const HOUR = 3_600_000;

const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

interface Setup {
  config: ReadonlyConfig;
  origin: Origin;
  smtp: SmtpReceiver | null;
  /** The first scheduled digest after the test's start. */
  runAt: number;
}

/**
 * A proxy whose weekly digest falls on the day after tomorrow at 07:30 (so today's rows are in its period
 * whatever the day and hour the test runs), an `extremism` category marked `alert`, and a pupil account.
 */
async function setup(opts: { smtp: 'receiver' | 'down' | 'none'; maxAttempts?: number }): Promise<Setup> {
  const dir = tempDir('sg-digest-');
  const origin = await startOrigin();
  cleanup.push(() => origin.close());
  const cert = loopbackCert(dir);
  let smtp: SmtpReceiver | null = null;
  let port = 0;
  if (opts.smtp === 'receiver') {
    smtp = await startSmtpReceiver({ tls: cert, user: SMTP_USER, pass: SMTP_PASS });
    cleanup.push(() => smtp!.close());
    port = smtp.port;
  } else if (opts.smtp === 'down') port = await closedPort();

  const day = digestDayAfterTomorrow(ZONE);
  const config = testConfig(
    {
      timeZone: ZONE,
      httpPorts: [origin.port],
      hosts: { 'www.google.com': '127.0.0.1', 'hate.test': '127.0.0.1' },
      identity: { basicAuth: true, requireAuth: false },
      profiles: { ...FIXTURE_PROFILES, pupil: { categories: { adult: 'block', extremism: 'block' } } },
      alerts: {
        digest: { weekly: { day, time: '07:30' } },
        ...(opts.smtp === 'none'
          ? {}
          : {
              email: loopbackEmailSink({
                dir,
                port,
                caFile: cert.file,
                user: SMTP_USER,
                pass: SMTP_PASS,
                extra: { maxAttempts: opts.maxAttempts ?? 3, initialBackoffMs: 60_000, maxBackoffMs: 60_000 },
              }),
            }),
      },
    },
    dir,
  );
  addAlertCategory(config.categoriesDir, 'extremism', 'Extremism', ['hate.test']);
  const users = new UserStore(config.dataDir);
  await users.add({ name: 'pupil1', profile: 'pupil', password: 'pupil-password' });
  users.close();
  const runAt = nextRunAt(new Date(), { kind: 'weekly', day, time: '07:30' }, ZONE).getTime();
  return { config, origin, smtp, runAt };
}

async function start(
  config: ReadonlyConfig,
  clock: TestClock,
  logger: Logger = pino({ level: 'silent' }),
): Promise<{ sg: RunningSchoolgate; scheduler: DigestScheduler | null }> {
  const sg = await startSchoolgate(config, logger, { digestClock: clock });
  cleanup.push(() => sg.stop());
  return { sg, scheduler: sg.alerts.digests.scheduler };
}

function digestAccess(sg: RunningSchoolgate) {
  const db = new Database(sg.auditPath, { readonly: true });
  try {
    return listAccess(db).filter((e) => e.command.startsWith('digest'));
  } finally {
    db.close();
  }
}

const isDigest = (m: ReceivedMail) => m.parsed.headers.get('x-schoolgate-digest') !== undefined;
const search = (port: number, term: string) =>
  `http://www.google.com:${port}/search?q=${encodeURIComponent(term).replace(/%20/g, '+')}`;

describe('the scheduled digest', () => {
  it('at the configured time, exactly one e-mail with the alert summary and the flagged person; recorded', async () => {
    const s = await setup({ smtp: 'receiver' });
    const clock = new TestClock(Date.now());
    const { sg, scheduler } = await start(s.config, clock);
    await scheduler!.ready;
    expect(scheduler!.nextRuns()).toEqual({ weekly: s.runAt });

    const port = sg.address.port;
    const headers = { 'proxy-authorization': PUPIL };
    expect((await viaProxy(port, search(s.origin.port, 'how to k1ll myself'), { headers })).status).toBe(200);
    expect((await viaProxy(port, `http://hate.test:${s.origin.port}/manifesto`, { headers })).status).toBe(
      403,
    );
    await s.smtp!.waitFor(2); // the two alert e-mails: both alerts are in the table by now
    expect(s.smtp!.received.filter(isDigest)).toHaveLength(0);

    const sent = once(scheduler!, 'sent');
    clock.advanceTo(s.runAt);
    const [job] = (await sent) as [{ fromMs: number; toMs: number; late: boolean }];
    expect(job).toMatchObject({ ...periodOf('weekly', s.runAt, ZONE), late: false });
    const mails = await s.smtp!.waitFor(3);
    clock.advanceBy(6 * HOUR); // nothing else is due
    await sg.stop();

    const digests = s.smtp!.received.filter(isDigest);
    expect(digests).toHaveLength(1);
    expect(mails.filter(isDigest)).toEqual(digests);
    const mail = digests[0]!;
    expect(mail.secure).toBe(true);
    expect(mail.to).toEqual(['dsl@school.test']);
    expect(mail.parsed.subject).toMatch(
      /^\[schoolgate\] Weekly safeguarding digest .*: 2 alerts \(2 danger\), 1 person to review$/,
    );
    const text = mail.parsed.text ?? '';
    const [alertPart, flaggedPart] = text.split('People with flagged attempts');
    expect(alertPart).toContain('Danger: 2');
    expect(alertPart).toContain('keyword:selfharm');
    expect(alertPart).toContain('how to k1ll myself');
    expect(alertPart).toContain('category:extremism');
    expect(alertPart).toContain(`hxxp://hate[.]test:${s.origin.port}/manifesto`);
    // Danger and warning alerts, alerted requests, flagged attempts, blocked, allowed, continued, categories.
    expect(flaggedPart).toMatch(/pupil1 \(pupil\)\s+2\s+0\s+2\s+1\s+1\s+0\s+0\s+Extremism \(extremism\) 1/);
    const html = String(mail.parsed.html);
    expect(html).toContain('pupil1');
    expect(html).toContain('hate[.]test');
    // Never a link: no anchor, and no address a mail client would turn into one.
    for (const part of [text, html]) {
      expect(part).not.toMatch(/<a\s/i);
      expect(part).not.toContain('http://hate.test');
      expect(part).not.toContain('hate.test');
    }

    const access = digestAccess(sg);
    expect(access).toHaveLength(1);
    expect(access[0]).toMatchObject({
      command: 'digest weekly',
      by: 'schoolgate',
      outcome: 'granted',
      format: 'email',
      timeMs: s.runAt,
      fromMs: job.fromMs,
      toMs: job.toMs,
    });
  });

  it('a run missed while the proxy was down is sent at the next start, marked late, and only once', async () => {
    const s = await setup({ smtp: 'receiver' });
    const first = await start(s.config, new TestClock(Date.now()));
    await first.scheduler!.ready;
    const res = await viaProxy(first.sg.address.port, search(s.origin.port, 'how to k1ll myself'), {
      headers: { 'proxy-authorization': PUPIL },
    });
    expect(res.status).toBe(200);
    await s.smtp!.waitFor(1); // the alert e-mail
    await first.sg.stop(); // down over the digest's time

    const restart = await start(s.config, new TestClock(s.runAt + 2 * HOUR));
    await restart.scheduler!.ready; // the catch-up is sent before this resolves
    const [, late] = await s.smtp!.waitFor(2);
    expect(isDigest(late!)).toBe(true);
    expect(late!.parsed.subject).toMatch(/^\[schoolgate\] LATE Weekly safeguarding digest/);
    expect(late!.parsed.text).toMatch(/LATE\s+this digest was due at \d{4}-\d\d-\d\d 07:30/);
    expect(late!.parsed.text).toContain('how to k1ll myself');
    expect(restart.scheduler!.nextRuns().weekly).toBeGreaterThan(s.runAt + 6 * 24 * HOUR);
    await restart.sg.stop();
    expect(digestAccess(restart.sg)).toMatchObject([
      { command: 'digest weekly', timeMs: s.runAt + 2 * HOUR, ...periodOf('weekly', s.runAt, ZONE) },
    ]);

    // Started again the same morning: the record says it went, so nothing is sent again.
    const again = await start(s.config, new TestClock(s.runAt + 3 * HOUR));
    await again.scheduler!.ready;
    await again.sg.stop();
    expect(digestAccess(again.sg)).toHaveLength(1);
    expect(s.smtp!.received.filter(isDigest)).toHaveLength(1);
  });

  it('a send that fails is retried a bounded number of times, logged, not recorded, and folded into the next', async () => {
    const s = await setup({ smtp: 'down', maxAttempts: 2 });
    const log = capturedLogger();
    const clock = new TestClock(Date.now());
    const { sg, scheduler } = await start(s.config, clock, log.logger);
    await scheduler!.ready;

    const retry = once(scheduler!, 'retry');
    clock.advanceTo(s.runAt);
    const [job, attempt, delayMs] = (await retry) as [{ fromMs: number; toMs: number }, number, number];
    expect(attempt).toBe(1);
    expect(delayMs).toBeGreaterThanOrEqual(30_000); // half to all of initialBackoffMs
    const gaveUp = once(scheduler!, 'gave-up');
    clock.advanceBy(delayMs);
    const [, reason] = (await gaveUp) as [unknown, string];
    expect(reason).toMatch(/^2 attempt\(s\) failed, last: .*ECONNREFUSED/);

    // The next week's digest covers the week that was not sent as well.
    const nextRetry = once(scheduler!, 'retry');
    clock.advanceTo(scheduler!.nextRuns().weekly!);
    const [next] = (await nextRetry) as [{ fromMs: number; toMs: number }];
    expect(next.fromMs).toBe(job.fromMs);
    expect(next.toMs).toBe(addDays(job.toMs, 7, ZONE));
    await sg.stop();

    expect(digestAccess(sg)).toEqual([]);
    const messages = log.lines().map((l) => l['msg']);
    expect(messages.filter((m) => m === 'digest: not sent; will retry')).toHaveLength(2);
    const notSent = log
      .lines()
      .filter((l) => l['msg'] === 'digest: NOT sent; the next digest covers its period');
    expect(notSent.map((l) => String(l['reason']).replace(/, last: .*/, ''))).toEqual([
      '2 attempt(s) failed',
      'schoolgate stopped before it was sent', // the second week's retry was pending at stop()
    ]);
    expect(log.text()).not.toContain(SMTP_PASS);
  });

  it('without an e-mail sink no digest is scheduled, and the log says so once', async () => {
    const s = await setup({ smtp: 'none' });
    const log = capturedLogger();
    const { sg, scheduler } = await start(s.config, new TestClock(Date.now()), log.logger);
    expect(scheduler).toBeNull();
    await sg.stop();
    const said = log
      .lines()
      .filter((l) => String(l['msg']).includes('no e-mail sink configured (alerts.email)'));
    expect(said).toHaveLength(1);
    expect(said[0]).toMatchObject({ digests: ['weekly'] });
  });
});
