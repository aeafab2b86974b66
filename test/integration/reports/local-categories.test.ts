/**
 * Reports take category titles and flags from the same loaded metadata as the proxy: the shipped
 * categories.yaml plus the school's local layer (<dataDir>/categories.local/categories.yaml). A category the
 * school created shows its title and, marked alert, fills the weekly review's alert section; a
 * categories.yaml the proxy would refuse is an SG_CATEGORY_INVALID error, never a report with bare names.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSqliteAuditStore } from '../../../src/audit/index.js';
import { loadCategories } from '../../../src/lists/load.js';
import { localMetaFile, readLocalLayer } from '../../../src/lists/local-layer.js';
import { runCli } from '../../helpers/cli.js';
import { NOV, buildFixture, ev, type Fixture } from './fixture.js';

let f: Fixture;
let c: string[];
let categoriesDir: string;
const radicalIds: string[] = [];
const PERIOD = ['--from', '2026-11-02', '--to', '2026-11-06'];
const WEEK = ['--since', '2026-11-01', '--to', '2026-11-30'];

const RADICAL = 'radical:\n  title: Radical forums\n  flagged: true\n  alert: true\n';

function writeLocalMeta(text: string): void {
  mkdirSync(path.dirname(localMetaFile(f.dataDir)), { recursive: true });
  writeFileSync(localMetaFile(f.dataDir), text);
}

beforeAll(async () => {
  f = await buildFixture();
  c = ['--config', f.config];
  categoriesDir = path.join(f.dir, 'categories');
  // Rows in the school's own category, appended as a restarted proxy would.
  const store = openSqliteAuditStore({ path: f.dbPath });
  for (let i = 0; i < 2; i++) {
    const e = ev({
      time: NOV(5, 10, i),
      host: 'forum.radical.test',
      categories: ['radical'],
      action: 'block',
      flagged: true,
      status: 403,
      reason: 'category',
    });
    radicalIds.push(e.id);
    await store.record(e);
  }
  await store.close();
  const opened = await runCli(['case', 'open', 'C-9', '--subject', 'pupil1', '--by', 'DSL', ...c]);
  expect(opened.code, opened.stderr).toBe(0);
});

afterAll(() => rmSync(f.dir, { recursive: true, force: true }));

describe('reports over the local layer', () => {
  it('shows a school-created category by its title in the person report', async () => {
    writeLocalMeta(RADICAL);
    const r = await runCli([
      'report',
      'user',
      'pupil1',
      ...PERIOD,
      '--case',
      'C-9',
      '--by',
      'DSL',
      '--reason',
      'pastoral concern',
      ...c,
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('Radical forums (radical)');
    expect(r.stdout).toContain('Gambling (gambling)');
  });

  it('lists a school-created alert category in the weekly review’s alert section', async () => {
    writeLocalMeta(RADICAL);
    const j = await runCli([
      'report',
      'weekly',
      ...WEEK,
      '--by',
      'DSL',
      '--reason',
      'pastoral concern',
      '--format',
      'json',
      ...c,
    ]);
    expect(j.code, j.stderr).toBe(0);
    const d = JSON.parse(j.stdout) as { alerts: { id: string; categories: string[] }[] };
    expect(d.alerts.map((a) => a.id).sort()).toEqual([...radicalIds].sort());

    const t = await runCli([
      'report',
      'weekly',
      ...WEEK,
      '--by',
      'DSL',
      '--reason',
      'pastoral concern',
      ...c,
    ]);
    expect(t.code, t.stderr).toBe(0);
    expect(t.stdout).toContain('Flagged attempts in alert categories (Radical forums (radical)).');
    expect(t.stdout).not.toContain('No category is marked alert');
  });

  it('refuses, as the proxy does, a local entry that re-marks a shipped category (no second source)', async () => {
    const remark = 'gambling:\n  title: Gambling\n  flagged: true\n  alert: true\n';
    writeLocalMeta(`${RADICAL}${remark}`);
    // The proxy's loader refuses this local layer: the proxy would not start or reload on it.
    const proxy = await loadCategories(categoriesDir, { local: await readLocalLayer(f.dataDir) }).then(
      () => undefined,
      (err: { code?: string; message?: string }) => err,
    );
    expect(proxy).toMatchObject({ code: 'SG_CATEGORY_INVALID' });
    const r = await runCli([
      'report',
      'weekly',
      ...WEEK,
      '--by',
      'DSL',
      '--reason',
      'pastoral concern',
      ...c,
    ]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`error SG_CATEGORY_INVALID: ${proxy!.message}`);
  });

  it('reports a broken local categories.yaml with file and line instead of falling back to bare names', async () => {
    writeLocalMeta(`${RADICAL}exam-cheats:\n  title: Exam cheating\n  flaged: true\n`);
    const r = await runCli([
      'report',
      'user',
      'pupil1',
      ...PERIOD,
      '--case',
      'C-9',
      '--by',
      'DSL',
      '--reason',
      'pastoral concern',
      ...c,
    ]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('error SG_CATEGORY_INVALID:');
    expect(r.stderr).toContain(`${localMetaFile(f.dataDir)}:7: category exam-cheats: unknown field "flaged"`);
    expect(r.stdout).toBe('');
  });
});
