/**
 * The list-index snapshot through a real proxy (loopback, real origin, real data folder): start writes it;
 * a `lists add` then a reload blocks the new domain and a `lists remove` of a shipped domain unblocks it,
 * both with the snapshot file untouched (it holds the shipped and provider layers only; the local layer is
 * read over it, src/lists/local-overlay.ts); a restart reads it and decides the same; a snapshot damaged on
 * disk is named in the log at the next start, which rebuilds it and decides the same.
 */
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSchoolgate, type RunningSchoolgate } from '../../../src/app/start.js';
import type { ReadonlyConfig } from '../../../src/config/load.js';
import { addEntries, removeEntries } from '../../../src/lists/edit.js';
import { entryOf } from '../../../src/lists/entry.js';
import { listsSnapshotDir } from '../../../src/lists/load-snapshot.js';
import { SNAPSHOT_FILE } from '../../../src/lists/snapshot-file.js';
import { parseEntry } from '../../../src/policy/entries.js';
import { startOrigin, type Origin } from '../../helpers/origin.js';
import { viaProxy } from '../../helpers/raw-http.js';
import { testConfig } from '../../helpers/schoolgate.js';

let origin: Origin;
let config: ReadonlyConfig;
let sg: RunningSchoolgate | undefined;
let logLines: string[] = [];

const status = (host: string) =>
  viaProxy(sg!.address.port, `http://${host}:${origin.port}/`).then((r) => r.status);
const dirs = () => ({ categoriesDir: config.categoriesDir, dataDir: config.dataDir });
const snapshotFile = () => path.join(listsSnapshotDir(config.dataDir), SNAPSHOT_FILE);

async function start(): Promise<void> {
  logLines = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => void logLines.push(line) });
  sg = await startSchoolgate(config, logger);
}

async function restart(): Promise<void> {
  await sg?.stop();
  sg = undefined;
  await start();
}

beforeAll(async () => {
  origin = await startOrigin();
  config = testConfig({ httpPorts: [origin.port] });
  await start();
});

afterAll(async () => {
  await sg?.stop();
  await origin?.close();
});

describe('the list-index snapshot of a running proxy', () => {
  it('is written at start, owner-only', async () => {
    expect(statSync(snapshotFile()).mode & 0o777).toBe(0o600);
    expect(await status('blocked.example')).toBe(403);
    expect(await status('notblocked.example')).toBe(200);
  });

  it('a `lists add` then a reload blocks the new domain with the snapshot unchanged (read, not rebuilt); so does a restart', async () => {
    const before = readFileSync(snapshotFile());
    const entry = entryOf(parseEntry('notblocked.example'))!;
    await addEntries(dirs(), 'adult', [entry]);
    const reloaded = await sg!.reload();
    expect(reloaded.ok).toBe(true);
    expect(await status('notblocked.example')).toBe(403);
    expect(readFileSync(snapshotFile()).equals(before)).toBe(true);

    await restart();
    expect(readFileSync(snapshotFile()).equals(before)).toBe(true);
    expect(await status('notblocked.example')).toBe(403);
    expect(await status('blocked.example')).toBe(403);
  });

  it('a `lists remove` of a shipped domain then a reload unblocks it, the snapshot still unchanged', async () => {
    const before = readFileSync(snapshotFile());
    expect(await status('social.test')).toBe(403);
    await removeEntries(dirs(), 'social', [entryOf(parseEntry('social.test'))!]);
    expect((await sg!.reload()).ok).toBe(true);
    expect(await status('social.test')).toBe(200);
    expect(await status('facebook.com')).toBe(403);
    expect(readFileSync(snapshotFile()).equals(before)).toBe(true);
  });

  it('damaged on disk: the next start says so in the log, rebuilds it and decides the same', async () => {
    const bytes = readFileSync(snapshotFile());
    writeFileSync(snapshotFile(), bytes.subarray(0, bytes.length - 100));
    await restart();
    expect(logLines.some((l) => /lists index snapshot .* is damaged/.test(l))).toBe(true);
    expect(readFileSync(snapshotFile()).equals(bytes)).toBe(true);
    expect(await status('notblocked.example')).toBe(403);
    expect(await status('blocked.example')).toBe(403);
    expect(await status('social.test')).toBe(200);
    expect(await status('facebook.com')).toBe(403);
    expect(await status('allowed.test')).toBe(200);
  });
});
