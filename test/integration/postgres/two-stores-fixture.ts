/**
 * The reports fixture's SQLite file and the same rows in a private PostgreSQL cluster, copied by
 * `store migrate` under one node's name: what the two-store tests compare, and how they compare it.
 */
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type Database from 'better-sqlite3';
import pg from 'pg';
import { expect } from 'vitest';
import { openSqliteAuditStore, type AuditEvent } from '../../../src/audit/index.js';
import { pgPool } from '../../../src/audit/postgres/connect.js';
import { migrateSqliteToPostgres } from '../../../src/audit/postgres/migrate-from-sqlite.js';
import { openPgReportStoreOn, type PgReportStore } from '../../../src/audit/postgres/report-reads.js';
import type { BuiltReport } from '../../../src/reports/builders.js';
import { renderText } from '../../../src/reports/render-text.js';
import { writeReport } from '../../../src/reports/run.js';
import { loadCategoryInfo, openReadOnly, type ReportSource } from '../../../src/reports/source.js';
import { SqliteReads } from '../../../src/reports/sqlite-reads.js';
import { LocalClock } from '../../../src/reports/time.js';
import { startPgCluster, type PgCluster } from '../../helpers/pg-cluster.js';
import { buildFixture, NOV, type Fixture } from '../reports/fixture.js';

/** `more`: rows appended to the fixture's chain (through the real writer) before the copy. */
export async function fixtureInBothStores(
  node: string,
  more: readonly AuditEvent[] = [],
): Promise<{ cluster: PgCluster; fx: Fixture }> {
  const [cluster, fx] = await Promise.all([startPgCluster(), buildFixture()]);
  if (more.length > 0) {
    const store = openSqliteAuditStore({ path: fx.dbPath, batchMaxRows: 7 });
    for (const e of more) await store.record(e);
    await store.close();
  }
  await migrateSqliteToPostgres({ sqlitePath: fx.dbPath, target: { connectionString: cluster.url }, node });
  return { cluster, fx };
}

/** Both stores open for reading, an admin connection to PostgreSQL, and a report source on either. */
export interface TwoStores {
  cluster: PgCluster;
  fx: Fixture;
  sqlite: Database.Database;
  store: PgReportStore;
  admin: pg.Client;
  common: Omit<ReportSource, 'reads'>;
  onSqlite(): ReportSource;
  onPostgres(): ReportSource;
  close(): Promise<void>;
}

export async function openTwoStores(node: string, more: readonly AuditEvent[] = []): Promise<TwoStores> {
  const { cluster, fx } = await fixtureInBothStores(node, more);
  const sqlite = openReadOnly(fx.dbPath);
  const store = openPgReportStoreOn(pgPool({ connectionString: cluster.url, max: 2 }));
  const admin = new pg.Client(cluster.url);
  await admin.connect();
  const common = {
    timeZone: 'Europe/London',
    now: NOV(10, 12),
    clock: new LocalClock('Europe/London'),
    categories: await loadCategoryInfo(path.join(fx.dir, 'categories'), fx.dataDir),
  };
  return {
    cluster,
    fx,
    sqlite,
    store,
    admin,
    common,
    onSqlite: () => ({ ...common, reads: new SqliteReads(sqlite) }),
    onPostgres: () => ({ ...common, reads: store.reads }),
    close: async () => {
      sqlite.close();
      await store.close();
      await admin.end();
      await cluster.stop();
    },
  };
}

/** The fixture's config on store: { postgres } as `node`; `unreachable`: a server that is not there. */
export function pgConfigOf(t: TwoStores, node: string, unreachable = false): string {
  const file = path.join(t.fx.dir, unreachable ? 'config-pg-down.yaml' : 'config-pg.yaml');
  const url = unreachable ? 'postgres://nobody@127.0.0.1:1/none' : t.cluster.url;
  writeFileSync(file, readFileSync(t.fx.config, 'utf8'));
  appendFileSync(file, `store:\n  postgres:\n    url: ${url}\n    node: ${node}\n`);
  return file;
}

/** A report's text, JSON and CSV/JSON export, with the PostgreSQL head's node name taken out. */
export async function reportOutputs(src: ReportSource, built: BuiltReport, node: string) {
  const exported = async (format: 'csv' | 'json') => {
    let out = '';
    await writeReport(built, format, src, { write: (t) => (out += t) });
    return out;
  };
  const { chainHeads: _perNode, ...data } = built.data;
  const unnode = (s: string) => s.replaceAll(`node ${node}: `, '');
  return {
    text: unnode(renderText(built.doc)),
    data: JSON.parse(unnode(JSON.stringify(data))) as Record<string, unknown>,
    csv: await exported('csv'),
    json: unnode(JSON.stringify({ ...JSON.parse(await exported('json')), chainHeads: undefined })),
  };
}

/**
 * Each query's plan is an index read in the query's order. A small table is cheapest scanned and sorted:
 * both are forbidden, so the plan shows an index in order, or a scan or sort that no index could avoid.
 */
export async function expectIndexedPlans(url: string, queries: [string, unknown[]][]): Promise<void> {
  const pool = pgPool({ connectionString: url, max: 1 });
  const client = await pool.connect();
  try {
    await client.query('ANALYZE audit_events; ANALYZE report_access');
    await client.query(
      'SET enable_seqscan = off; SET enable_sort = off; SET enable_incremental_sort = off; SET enable_bitmapscan = off',
    );
    for (const [sql, params] of queries) {
      const { rows } = await client.query<{ 'QUERY PLAN': string }>(`EXPLAIN ${sql}`, params);
      const plan = rows.map((r) => r['QUERY PLAN']).join('\n');
      expect(plan, plan).toMatch(/Index (Only )?Scan/);
      expect(plan, plan).not.toMatch(/Seq Scan|Sort|Bitmap/);
    }
  } finally {
    client.release();
    await pool.end();
  }
}
