/**
 * For tests of a `schoolgate serve` child process: a loopback origin for the whole file, and the serve
 * process a test started stopped (SIGTERM, waited for) after it.
 */
import type { ChildProcess } from 'node:child_process';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { waitForExit } from './cli.js';
import { startOrigin, type Origin } from './origin.js';

export interface ServeAndOrigin {
  origin: Origin;
  serve: { child: ChildProcess; port: number; output: () => string } | undefined;
}

export function useServeAndOrigin(): ServeAndOrigin {
  const state = {} as ServeAndOrigin;
  beforeAll(async () => {
    state.origin = await startOrigin();
  });
  afterEach(async () => {
    if (!state.serve) return;
    state.serve.child.kill('SIGTERM');
    await waitForExit(state.serve.child);
    state.serve = undefined;
  });
  afterAll(async () => {
    await state.origin?.close();
  });
  return state;
}
