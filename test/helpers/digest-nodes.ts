/**
 * For tests of scheduled digests on several nodes over one PostgreSQL (digest_claims): a weekly digest
 * mailed to a loopback SMTP relay, one node's digests started against a database, and what a node's
 * scheduler did with the next digest.
 */
import { pino } from 'pino';
import { startDigests, type RunningDigests } from '../../src/alerts/digest/index.js';
import type { DigestScheduler } from '../../src/alerts/digest/scheduler.js';
import { pgDigestStore } from '../../src/alerts/digest/store.js';
import type { ReadonlyConfig } from '../../src/config/load.js';
import type { ConfigInput } from '../../src/config/schema.js';
import { loopbackCert, startSmtpReceiver, type SmtpReceiver } from './alert-receivers.js';
import { type digestDayAfterTomorrow, loopbackEmailSink } from './alert-setup.js';
import { tempDir, testConfig } from './schoolgate.js';
import type { TestClock } from './test-clock.js';

export const DIGEST_ZONE = 'Europe/London';

/**
 * A config (`extra` besides) whose digest is weekly on `day` at 07:30, mailed once (no retry) to a started
 * loopback relay.
 */
export async function weeklyDigestToRelay(
  day: ReturnType<typeof digestDayAfterTomorrow>,
  pass: string,
  extra: Partial<ConfigInput> = {},
): Promise<{ smtp: SmtpReceiver; config: ReadonlyConfig }> {
  const dir = tempDir('sg-digest-nodes-');
  const cert = loopbackCert(dir);
  const smtp = await startSmtpReceiver({ tls: cert, user: 'relay', pass });
  const config = testConfig(
    {
      ...extra,
      timeZone: DIGEST_ZONE,
      alerts: {
        digest: { weekly: { day, time: '07:30' } },
        email: loopbackEmailSink({
          dir,
          port: smtp.port,
          caFile: cert.file,
          user: 'relay',
          pass,
          // One attempt: a retry would wait on the test clock, which only the test moves.
          extra: { maxAttempts: 1 },
        }),
      },
    },
    dir,
  );
  return { smtp, config };
}

/** One node's digests on the database at `url`, on the test's clock (not awaited: see `scheduler.ready`). */
export function nodeDigests(
  config: ReadonlyConfig,
  url: string,
  node: string,
  clock: TestClock,
): RunningDigests {
  return startDigests({
    settings: config.alerts,
    timeZone: DIGEST_ZONE,
    openStore: () => pgDigestStore({ connectionString: url }, node),
    categories: () => new Map(),
    logger: pino({ level: 'silent' }),
    clock,
  });
}

/** What one scheduler did with the next digest: sent it, left it to another node, or gave up. */
export function digestOutcome(s: DigestScheduler): Promise<string> {
  return new Promise((resolve) => {
    const done = (what: string) => {
      s.off('sent', sent);
      s.off('elsewhere', elsewhere);
      s.off('gave-up', gaveUp);
      resolve(what);
    };
    const sent = () => done('sent');
    const elsewhere = () => done('elsewhere');
    const gaveUp = (_j: unknown, reason: string) => done(`gave up: ${reason}`);
    s.on('sent', sent);
    s.on('elsewhere', elsewhere);
    s.on('gave-up', gaveUp);
  });
}
