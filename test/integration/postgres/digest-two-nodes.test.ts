/**
 * Two nodes of a trust, both with alerts.digest and alerts.email, over one PostgreSQL: each scheduled digest
 * is claimed in digest_claims before it is sent, so exactly one mail goes out per digest (loopback SMTP);
 * a claim left by a node that died is taken over once stale; a live claim by another node is respected.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningDigests } from '../../../src/alerts/digest/index.js';
import { nextRunAt } from '../../../src/alerts/digest/schedule.js';
import { STALE_CLAIM_MS } from '../../../src/audit/postgres/digest-claims.js';
import type { SmtpReceiver } from '../../helpers/alert-receivers.js';
import { digestDayAfterTomorrow } from '../../helpers/alert-setup.js';
import { DIGEST_ZONE, digestOutcome, nodeDigests, weeklyDigestToRelay } from '../../helpers/digest-nodes.js';
import { findPostgres, PG_SKIP_MESSAGE, startPgCluster, type PgCluster } from '../../helpers/pg-cluster.js';
import { migratedPool } from '../../helpers/pg-migrated.js';
import { TestClock } from '../../helpers/test-clock.js';

const bin = findPostgres();
if (!bin) console.warn(PG_SKIP_MESSAGE);

const WEEK = 7 * 86_400_000;
const PASS = 'relay-pw-two-nodes-8q';

describe.skipIf(!bin)('scheduled digests with two nodes on one PostgreSQL', { timeout: 120_000 }, () => {
  let cluster: PgCluster;
  let smtp: SmtpReceiver;
  let admin: pg.Client;
  const nodes: RunningDigests[] = [];
  const clock = new TestClock(Date.now());
  const day = digestDayAfterTomorrow(DIGEST_ZONE);
  const firstRun = nextRunAt(
    new Date(clock.now()),
    { kind: 'weekly', day, time: '07:30' },
    DIGEST_ZONE,
  ).getTime();

  /** The digests received, once `n` have arrived (a mail is parsed after the relay answered the sender). */
  const digestMails = async (n: number) =>
    (await smtp.waitFor(n)).filter((m) => m.parsed.headers.get('x-schoolgate-digest'));
  /** Moves both nodes to the digest due at `at` and returns what each did. */
  async function runAt(at: number): Promise<string[]> {
    const done = nodes.map((n) => digestOutcome(n.scheduler!));
    clock.advanceTo(at);
    return (await Promise.all(done)).sort();
  }

  beforeAll(async () => {
    cluster = await startPgCluster();
    await (await migratedPool(cluster.url)).end();
    admin = new pg.Client(cluster.url);
    await admin.connect();
    const relay = await weeklyDigestToRelay(day, PASS);
    smtp = relay.smtp;
    for (const node of ['gate-a', 'gate-b']) {
      const running = nodeDigests(relay.config, cluster.url, node, clock);
      nodes.push(running);
      await running.scheduler!.ready;
    }
  });

  afterAll(async () => {
    for (const n of nodes) await n.stop();
    await admin?.end();
    await smtp?.close();
    await cluster?.stop();
  });

  it('sends each digest once: one node claims it, the other sends nothing', async () => {
    expect(await runAt(firstRun)).toEqual(['elsewhere', 'sent']);
    expect(await digestMails(1)).toHaveLength(1);
    const { rows } = await admin.query(`SELECT node, sent_ms IS NOT NULL AS sent FROM digest_claims`);
    expect(rows).toEqual([{ node: expect.stringMatching(/^gate-[ab]$/), sent: true }]);
    const access = await admin.query(
      `SELECT count(*)::int AS n FROM report_access WHERE command = 'digest weekly'`,
    );
    expect(access.rows[0].n).toBe(1);
  });

  it('takes over a stale claim left by a node that died before sending', async () => {
    const due = firstRun + WEEK;
    await admin.query(
      `INSERT INTO digest_claims (kind, due_at, node, claimed_ms) VALUES ('weekly', $1, 'gate-dead', $2)`,
      [due, due - STALE_CLAIM_MS - 1],
    );
    expect(await runAt(due)).toEqual(['elsewhere', 'sent']);
    expect(await digestMails(2)).toHaveLength(2);
    const { rows } = await admin.query(
      `SELECT node, sent_ms IS NOT NULL AS sent FROM digest_claims WHERE due_at = $1`,
      [due],
    );
    expect(rows).toEqual([{ node: expect.stringMatching(/^gate-[ab]$/), sent: true }]);
  });

  it('leaves a live claim of another node alone', async () => {
    const due = firstRun + 2 * WEEK;
    await admin.query(
      `INSERT INTO digest_claims (kind, due_at, node, claimed_ms) VALUES ('weekly', $1, 'gate-c', $1)`,
      [due],
    );
    expect(await runAt(due)).toEqual(['elsewhere', 'elsewhere']);
    expect(await digestMails(2)).toHaveLength(2); // neither node sent one
  });
});
