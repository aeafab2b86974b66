/**
 * `schoolgate case open | note | close | reopen | list | show` through the real CLI, the same cases on both
 * stores (one table): the SQLite file and PostgreSQL (a private cluster). An open case's subjects are held
 * from the purge on both; the refusals are the same codes.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { heldSet } from '../../../src/audit/holds.js';
import { openWritableDatabase } from '../../../src/audit/open-database.js';
import { pgHeldSet } from '../../../src/audit/postgres/holds.js';
import { runCli } from '../../helpers/cli.js';
import { findPostgres, startPgCluster, type PgCluster } from '../../helpers/pg-cluster.js';
import { serveFiles } from '../../helpers/schoolgate.js';

let cluster: PgCluster | undefined;
afterAll(async () => {
  await cluster?.stop();
});

/** Each store: its config, and the addresses held from the purge as that store's purge reads them. */
const BACKENDS = [
  {
    name: 'sqlite',
    skip: false,
    setUp: async (files: ReturnType<typeof serveFiles>) => {
      // The file the proxy makes at its first start; the CLI refuses a missing one (a wrong --data).
      openWritableDatabase(path.join(files.data, 'audit.sqlite'), { busyTimeoutMs: 5000 }).close();
      return async () => {
        const db = openWritableDatabase(path.join(files.data, 'audit.sqlite'), { busyTimeoutMs: 5000 });
        try {
          return [...heldSet(db).addresses];
        } finally {
          db.close();
        }
      };
    },
  },
  {
    name: 'postgres',
    skip: !findPostgres(),
    setUp: async (files: ReturnType<typeof serveFiles>) => {
      cluster ??= await startPgCluster();
      writeFileSync(
        path.join(files.dir, 'config.yaml'),
        JSON.stringify({ store: { postgres: { url: cluster.url, node: 'gate-a' } } }),
      );
      return async () => {
        const pool = new pg.Pool({ connectionString: cluster!.url });
        try {
          return [...(await pgHeldSet(pool)).addresses];
        } finally {
          await pool.end();
        }
      };
    },
  },
] as const;

describe.each(BACKENDS)('cases on $name', ({ skip, setUp }) => {
  it.skipIf(skip)(
    'open, note, close, reopen, list and show; refusals by code',
    { timeout: 300_000 },
    async () => {
      const files = serveFiles();
      const heldAddresses = await setUp(files);
      const cli = async (...args: string[]) => {
        const r = await runCli([...args, ...files.args]);
        return { ...r, out: r.stdout + r.stderr };
      };

      const unknown = await cli('case', 'open', 'C-0', '--subject', 'no.such.pupil', '--by', 'A. Head');
      expect(unknown.code).not.toBe(0);
      expect(unknown.out).toContain('SG_SUBJECT_UNKNOWN');

      const opened = await cli(
        'case',
        'open',
        'C-1',
        '--subject-address',
        '10.0.0.5',
        '--by',
        'A. Head',
        '--note',
        'raised by form tutor',
      );
      expect(opened.code, opened.out).toBe(0);
      expect(opened.stdout).toContain('case C-1 opened about address 10.0.0.5');
      expect(await heldAddresses()).toEqual(['10.0.0.5']);
      expect(
        (await cli('case', 'open', 'C-1', '--subject-address', '10.0.0.6', '--by', 'A. Head')).out,
      ).toContain('SG_CASE_EXISTS');
      expect((await cli('case', 'note', 'C-9', 'nothing', '--by', 'DSL')).out).toContain('SG_CASE_UNKNOWN');

      expect((await cli('case', 'note', 'C-1', 'spoke', 'to', 'parents', '--by', 'DSL')).code).toBe(0);
      const closed = await cli('case', 'close', 'C-1', '--by', 'A. Head', '--outcome', 'no further action');
      expect(closed.code, closed.out).toBe(0);
      expect(await heldAddresses()).toEqual([]);
      expect((await cli('case', 'note', 'C-1', 'late', '--by', 'DSL')).out).toContain('SG_CASE_CLOSED');
      expect((await cli('case', 'reopen', 'C-1', '--by', 'A. Head')).out).toContain('needs a reason');
      const reopened = await cli('case', 'reopen', 'C-1', '--by', 'A. Head', '--reason', 'new evidence');
      expect(reopened.code, reopened.out).toBe(0);
      expect(await heldAddresses()).toEqual(['10.0.0.5']);

      const list = await cli('case', 'list', '--by', 'DSL', '--reason', 'termly review of cases', '--json');
      expect(list.code, list.out).toBe(0);
      expect(JSON.parse(list.stdout)).toMatchObject([
        {
          ref: 'C-1',
          status: 'open',
          openedBy: 'A. Head',
          subjects: [{ kind: 'address', value: '10.0.0.5' }],
        },
      ]);
      const show = await cli('case', 'show', 'C-1', '--by', 'DSL', '--reason', 'termly review of cases');
      expect(show.code, show.out).toBe(0);
      for (const text of [
        'raised by form tutor',
        'spoke to parents',
        'Closed. Outcome: no further action',
        'Reopened: new evidence',
      ])
        expect(show.stdout).toContain(text);
    },
  );
});
