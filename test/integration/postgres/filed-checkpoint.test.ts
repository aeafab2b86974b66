/**
 * `audit checkpoint export` and `audit verify --against FILE` on PostgreSQL, per node: the exported line is
 * this node's latest signed checkpoint and verifies against the database; a line changed since fails.
 */
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signingKeyPath } from '../../../src/audit/checkpoints.js';
import { PostgresAuditStore } from '../../../src/audit/postgres/store.js';
import { auditEvent } from '../../helpers/audit-event.js';
import { runCli } from '../../helpers/cli.js';
import { findPostgres, PG_SKIP_MESSAGE, startPgCluster, type PgCluster } from '../../helpers/pg-cluster.js';
import { serveFiles } from '../../helpers/schoolgate.js';

const bin = findPostgres();
if (!bin) console.warn(PG_SKIP_MESSAGE);

describe.skipIf(!bin)('filed checkpoints on PostgreSQL', { timeout: 300_000 }, () => {
  let cluster: PgCluster;
  let files: ReturnType<typeof serveFiles>;
  const cli = (...args: string[]) => runCli([...args, ...files.args]);

  beforeAll(async () => {
    cluster = await startPgCluster();
    files = serveFiles();
    writeFileSync(
      path.join(files.dir, 'config.yaml'),
      JSON.stringify({ store: { postgres: { url: cluster.url, node: 'gate-a' } } }),
    );
    const a = await PostgresAuditStore.open({
      connectionString: cluster.url,
      node: 'gate-a',
      signingKeyFile: signingKeyPath(path.join(files.data, 'audit.sqlite')),
    });
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
