/**
 * `audit checkpoint export` and `audit verify --against FILE` on PostgreSQL, per node: the exported line is
 * this node's latest signed checkpoint and verifies against the database; a line changed since fails.
 */
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditEvent } from '../../helpers/audit-event.js';
import { runCli } from '../../helpers/cli.js';
import { findPostgres, PG_SKIP_MESSAGE, type PgCluster } from '../../helpers/pg-cluster.js';
import type { serveFiles } from '../../helpers/schoolgate.js';
import { clusterWithNode, nodeWriter } from './cli-node.js';

const bin = findPostgres();
if (!bin) console.warn(PG_SKIP_MESSAGE);

describe.skipIf(!bin)('filed checkpoints on PostgreSQL', { timeout: 300_000 }, () => {
  let cluster: PgCluster;
  let files: ReturnType<typeof serveFiles>;
  const cli = (...args: string[]) => runCli([...args, ...files.args]);

  beforeAll(async () => {
    ({ cluster, files } = await clusterWithNode());
    const a = await nodeWriter(cluster, files);
    for (let i = 0; i < 3; i++) await a.record(auditEvent({ id: randomUUID(), time: Date.now() }));
    await a.close(); // signs the head (seq 3) at close
  });

  afterAll(async () => {
    await cluster?.stop();
  });

  it('exports this node’s latest checkpoint, which verifies; a changed line does not', async () => {
    const exported = await cli('audit', 'checkpoint', 'export');
    expect(exported.code, exported.stderr).toBe(0);
    const [line] = exported.stdout.split('\n');
    expect(JSON.parse(line!)).toMatchObject({ database_id: 'postgres:gate-a', seq: 3, reason: 'close' });
    const good = path.join(files.dir, 'filed.txt');
    writeFileSync(good, `${line}\n`);
    const ok = await cli('audit', 'verify', '--against', good);
    expect(ok.code, ok.stdout + ok.stderr).toBe(0);
    expect(ok.stdout).toContain('the filed checkpoint in');

    const forged = path.join(files.dir, 'forged.txt');
    writeFileSync(forged, `${line!.replace(/"seq":3/, '"seq":2')}\n`);
    const bad = await cli('audit', 'verify', '--against', forged);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain("not signed by node gate-a's key");
  });
});
