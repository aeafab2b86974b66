/**
 * A reload builds the new lists on a worker thread (src/lists/load-off-thread.ts) while the proxy keeps
 * answering: a real proxy on loopback, a real origin, and the worker held by a hook (no sleeps) until a
 * request sent after the reload started has been answered. A broken list file or a worker that dies keeps
 * the old decisions, with the SG code in `status` and the log. Needs the build (the worker is compiled).
 */
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Worker } from 'node:worker_threads';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { controlRequest } from '../../../src/app/control.js';
import { startSchoolgate, type RunningSchoolgate } from '../../../src/app/start.js';
import type { ReadonlyConfig } from '../../../src/config/load.js';
import { listsWorkerBuilt } from '../../../src/lists/load-off-thread.js';
import { startOrigin, type Origin } from '../../helpers/origin.js';
import { viaProxy } from '../../helpers/raw-http.js';
import { testConfig } from '../../helpers/schoolgate.js';

let origin: Origin;
let config: ReadonlyConfig;
let sg: RunningSchoolgate;
/** What the next list-loading worker is held by (none: it runs at once). */
let holdNext: ((worker: Worker) => Promise<unknown>) | undefined;
const logLines: string[] = [];
let adultDomains: string;
let adultOriginal: string;

const status = (url: string) => viaProxy(sg.address.port, url).then((r) => r.status);
const site = (host: string) => `http://${host}:${origin.port}/`;

beforeAll(async () => {
  expect(listsWorkerBuilt()).toBe(true);
  origin = await startOrigin();
  config = testConfig({ httpPorts: [origin.port] });
  adultDomains = path.join(config.categoriesDir, 'adult', 'domains');
  adultOriginal = readFileSync(adultDomains, 'utf8');
  const logger = pino({ level: 'info' }, { write: (line: string) => void logLines.push(line) });
  sg = await startSchoolgate(config, logger, {
    holdListsWorker: (worker) => {
      const hold = holdNext;
      holdNext = undefined;
      return hold?.(worker);
    },
  });
  // Unauthenticated clients get the guest profile: adult blocked.
  expect(await status(site('blocked.example'))).toBe(403);
  expect(await status(site('notblocked.example'))).toBe(200);
});

afterAll(async () => {
  await sg?.stop();
  await origin?.close();
});

interface ReloadsStatus {
  reloads: { last: { ok: boolean; code: string | null } | null };
}
const lastReload = async () => (await controlRequest<ReloadsStatus>(config.dataDir, 'status')).reloads.last;

describe('a reload built on a worker thread', () => {
  it('answers a request sent after the reload started before the reload ends', async () => {
    appendFileSync(adultDomains, 'notblocked.example\n');
    let ended = false;
    let answered: { status: number; reloadEnded: boolean } | undefined;
    holdNext = async () => {
      const got = await status(site('notblocked.example'));
      answered = { status: got, reloadEnded: ended };
    };
    await sg.reload().finally(() => (ended = true));
    // Answered with the lists in force while the new ones were being built, then the new ones apply.
    expect(answered).toEqual({ status: 200, reloadEnded: false });
    expect(await status(site('notblocked.example'))).toBe(403);
    expect((await lastReload())?.ok).toBe(true);
  });

  it('keeps the old decisions when a list file is broken, with the SG code in status and the log', async () => {
    // Applied, this would unblock notblocked.example again (same size: the shrink guard stays out of it);
    // refused, it stays blocked.
    writeFileSync(adultDomains, `${adultOriginal}other.example\n`);
    const social = path.join(config.categoriesDir, 'social', 'domains');
    const socialOriginal = readFileSync(social);
    writeFileSync(social, Buffer.from([0x66, 0x00, 0xff, 0x0a]));
    try {
      await expect(sg.reload()).rejects.toMatchObject({
        code: 'SG_RELOAD_FAILED',
        context: { cause: 'SG_LIST_FILE_INVALID' },
      });
    } finally {
      writeFileSync(social, socialOriginal);
    }
    expect(await lastReload()).toMatchObject({ ok: false, code: 'SG_LIST_FILE_INVALID' });
    expect(logLines.some((l) => l.includes('"code":"SG_LIST_FILE_INVALID"'))).toBe(true);
    expect(await status(site('notblocked.example'))).toBe(403);
    expect(await status(site('blocked.example'))).toBe(403);
  });

  it('keeps the old decisions when the worker dies before answering (SG_LIST_WORKER_FAILED)', async () => {
    holdNext = (worker) => worker.terminate();
    await expect(sg.reload()).rejects.toMatchObject({
      code: 'SG_RELOAD_FAILED',
      context: { cause: 'SG_LIST_WORKER_FAILED' },
    });
    expect(await lastReload()).toMatchObject({ ok: false, code: 'SG_LIST_WORKER_FAILED' });
    expect(logLines.some((l) => l.includes('"code":"SG_LIST_WORKER_FAILED"'))).toBe(true);
    expect(await status(site('notblocked.example'))).toBe(403);
  });

  it('applies the same files once the worker is left alone (the refusals above were real)', async () => {
    await sg.reload();
    expect(await status(site('notblocked.example'))).toBe(200);
    expect(await status(site('blocked.example'))).toBe(403);
  });
});
