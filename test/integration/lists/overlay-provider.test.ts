/**
 * End to end through a running proxy: provider entries (`lists update`, src/lists/provider-layer.ts) for a
 * category the school created in its local layer are blocked as a full rebuild blocks them. The index
 * snapshot holds the shipped and provider layers only and is built without the school's categories, so
 * an overlay over it skipped provider/<school category> and let those sites through
 * (src/lists/local-overlay.ts now builds such a layer from text). At start and after a restart that finds
 * the snapshot on disk.
 */
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningSchoolgate } from '../../../src/app/start.js';
import type { ReadonlyConfig } from '../../../src/config/load.js';
import { startOrigin, type Origin } from '../../helpers/origin.js';
import { viaProxy } from '../../helpers/raw-http.js';
import { FIXTURE_PROFILES, startTestProxy, testConfig } from '../../helpers/schoolgate.js';

let origin: Origin;
let config: ReadonlyConfig;
let sg: RunningSchoolgate | undefined;

const status = (host: string) =>
  viaProxy(sg!.address.port, `http://${host}:${origin.port}/`).then((r) => r.status);

function withMine<T extends { categories: Record<string, string> }>(p: T): T {
  return { ...p, categories: { ...p.categories, mine: 'block' } };
}

beforeAll(async () => {
  origin = await startOrigin();
  const { replace, pupil, staff, guest } = FIXTURE_PROFILES;
  config = testConfig({
    httpPorts: [origin.port],
    hosts: { 'provmine.test': '127.0.0.1', 'ownmine.test': '127.0.0.1' },
    profiles: { replace, pupil: withMine(pupil), staff: withMine(staff), guest: withMine(guest) },
  });
  const generation = path.join(config.dataDir, 'categories.provider', 'gen-1');
  mkdirSync(path.join(generation, 'mine'), { recursive: true });
  writeFileSync(path.join(generation, 'mine', 'domains'), 'provmine.test\n');
  symlinkSync('gen-1', path.join(config.dataDir, 'categories.provider', 'current'));
  const local = path.join(config.dataDir, 'categories.local');
  mkdirSync(path.join(local, 'mine'), { recursive: true });
  writeFileSync(
    path.join(local, 'categories.yaml'),
    'mine:\n  title: Mine\n  description: the school list\n  flagged: false\n  alert: false\n',
  );
  writeFileSync(path.join(local, 'mine', 'domains'), 'ownmine.test\n');
  sg = await startTestProxy(config);
});

afterAll(async () => {
  await sg?.stop();
  await origin?.close();
});

describe("provider entries for the school's own category, through the proxy", () => {
  it('are blocked at start, and after a restart that reads the snapshot', async () => {
    for (let run = 0; run < 2; run++) {
      if (run === 1) {
        await sg!.stop();
        sg = await startTestProxy(config);
      }
      expect(await status('ownmine.test')).toBe(403);
      expect(await status('provmine.test')).toBe(403);
      expect(await status('notblocked.example')).toBe(200);
    }
  });
});
