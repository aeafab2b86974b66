/**
 * Fault injection on the CLI over PostgreSQL: another session holds the tables a command reads or writes
 * (LOCK TABLE … ACCESS EXCLUSIVE in an open transaction: a long migration, a stuck admin session). Each
 * command must end by itself, within the store's bound on a query (connect.ts: 10 s), with a non-zero exit
 * and an SG code, never hang and never print a raw driver error; once the lock goes the same commands work.
 */
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditEvent } from '../../helpers/audit-event.js';
import { runCli } from '../../helpers/cli.js';
import { findPostgres, PG_SKIP_MESSAGE, type PgCluster } from '../../helpers/pg-cluster.js';
import type { serveFiles } from '../../helpers/schoolgate.js';
import { clusterWithNode, nodeWriter } from './cli-node.js';

const bin = findPostgres();
if (!bin) console.warn(PG_SKIP_MESSAGE);

/** Every table the commands below touch: the audit rows, the ledger, the cases and the access record. */
const LOCKED = ['audit_events', 'chain_heads', 'ledger', 'ledger_head', 'cases', 'report_access'];

/** Longer than the store's 10 s query bound plus start-up, shorter than the test: a hang is killed. */
const HANG_MS = 40_000;

const COMMANDS: Record<string, string[]> = {
  'audit verify': ['audit', 'verify'],
  'report user': ['report', 'user', 'pupil1', '--by', 'DSL', '--reason', 'concern', '--format', 'json'],
  'case open': ['case', 'open', '2026-900', '--subject', 'pupil1', '--by', 'DSL'],
};

describe.skipIf(!bin)('CLI commands while another session holds their tables', { timeout: 240_000 }, () => {
  let cluster: PgCluster;
  let files: ReturnType<typeof serveFiles>;
  let holder: pg.Client | null = null;
  const cli = async (args: string[]) => {
    const r = await runCli([...args, ...files.args], { timeoutMs: HANG_MS });
    return { ...r, out: r.stdout + r.stderr };
  };

  beforeAll(async () => {
    ({ cluster, files } = await clusterWithNode());
    const a = await nodeWriter(cluster, files, 'gate-a', path.join(files.dir, 'gate-a.key'));
    await a.record(auditEvent({ id: 'ev-locked-1', time: Date.now() - 60_000, user: 'pupil1' }));
    await a.close();
    holder = new pg.Client(cluster.url);
    await holder.connect();
    await holder.query('BEGIN');
    await holder.query(`LOCK TABLE ${LOCKED.join(', ')} IN ACCESS EXCLUSIVE MODE`);
  });

  afterAll(async () => {
    await holder?.end().catch(() => undefined);
    await cluster?.stop();
  });

  /** Ended by itself, refused, by an SG code; the driver's words may be quoted in it, no stack trace. */
  const expectRefusedByCode = (r: { code: number | null; stdout: string; out: string }) => {
    expect(r.code, `killed after ${HANG_MS} ms, it hung: ${r.out}`).not.toBeNull();
    expect(r.code, r.out).not.toBe(0);
    expect(r.out).toMatch(/^error SG_[A-Z_]+: /m);
    expect(r.out).not.toMatch(/^\s+at .+:\d+:\d+\)?$/m);
    // Refused before anything was read: no report, no case, on stdout.
    expect(r.stdout).toBe('');
  };

  it('audit verify ends with SG_AUDIT_UNAVAILABLE, not a hang', async () => {
    const r = await cli(COMMANDS['audit verify']!);
    expectRefusedByCode(r);
    expect(r.out).toContain('SG_AUDIT_UNAVAILABLE');
  });

  it('case open ends with SG_AUDIT_UNAVAILABLE, not a hang', async () => {
    const r = await cli(COMMANDS['case open']!);
    expectRefusedByCode(r);
    expect(r.out).toContain('SG_AUDIT_UNAVAILABLE');
  });

  // Was a bug: report user on PostgreSQL printed the raw driver error "error: Query read timeout" with no SG
  // code when report_access could not be written in time (it did fail closed: exit 1, nothing printed).
  it('report user ends with SG_AUDIT_UNAVAILABLE, not a raw driver error', async () => {
    const r = await cli(COMMANDS['report user']!);
    expectRefusedByCode(r);
    expect(r.out).toContain('SG_AUDIT_UNAVAILABLE');
    // A lock held elsewhere, not a server that is down: the suggestion says where to look.
    expect(r.out).toMatch(/did not answer in time.*another session holds a lock/s);
  });

  it('works again once the lock is released', async () => {
    await holder!.query('COMMIT');
    const ok = await cli(COMMANDS['audit verify']!);
    expect(ok.code, ok.out).toBe(0);
    const opened = await cli(COMMANDS['case open']!);
    expect(opened.code, opened.out).toBe(0);
  });
});
