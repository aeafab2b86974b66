/**
 * The `schoolgate serve` process on PostgreSQL: `--node NAME` overrides store.postgres.node, the start
 * banner and `schoolgate status` name the server and the node, and its rows carry that name.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliFolder, runCli, startServeProcess, waitForExit } from '../../helpers/cli.js';
import { findPostgres, PG_SKIP_MESSAGE, startPgCluster, type PgCluster } from '../../helpers/pg-cluster.js';
import { viaProxy } from '../../helpers/raw-http.js';
import { FIXTURE_PROFILES, tempDir, writeFixtureCategories } from '../../helpers/schoolgate.js';

const bin = findPostgres();
if (!bin) console.warn(PG_SKIP_MESSAGE);

describe.skipIf(!bin)('serve --node on PostgreSQL', () => {
  let cluster: PgCluster;
  let url: string;

  beforeAll(async () => {
    cluster = await startPgCluster();
    url = await cluster.createDatabase('cli');
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  const folder = () =>
    cliFolder(
      {
        listen: { host: '127.0.0.1', port: 0 },
        profiles: FIXTURE_PROFILES,
        console: { enabled: false },
        store: { postgres: { url, node: 'from-config' } },
      },
      { tempDir, categories: writeFixtureCategories },
    );

  it('records under the --node name, shown by the banner and by status', async () => {
    const { args } = folder();
    const serve = await startServeProcess([...args, '--node', 'gate-cli']);
    try {
      const server = `127.0.0.1:${cluster.port}/cli`;
      expect(serve.output()).toContain(`audit log:  PostgreSQL ${server}, node gate-cli`);
      const blocked = await viaProxy(serve.port, 'http://social.test/node-flag');
      expect(blocked.status).toBe(403);
      const status = await runCli(['status', ...args]);
      expect(status.stdout).toContain(`audit store    postgres ${server} node gate-cli: ok`);
      expect(status.stdout).toMatch(/^ {2}node gate-cli \(this node\): last seen \d+ s ago/m);
    } finally {
      serve.child.kill('SIGTERM');
      expect(await waitForExit(serve.child)).toBe(0);
    }
    const db = new pg.Client(url);
    await db.connect();
    try {
      const { rows } = await db.query(`SELECT node, action FROM audit_events WHERE path = '/node-flag'`);
      expect(rows).toEqual([{ node: 'gate-cli', action: 'block' }]);
    } finally {
      await db.end();
    }
  });

  it('refuses a --node name that is not a node name', async () => {
    const { args } = folder();
    const result = await runCli(['serve', ...args, '--node', 'bad name!']);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain('--node');
  });
});
