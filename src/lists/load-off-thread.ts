/**
 * The category lists loaded on a worker thread (lists-worker.ts): reading and indexing a million lines
 * takes seconds of CPU, which on the serving thread would stall every request for as long (issue 13). The
 * worker fills the index's typed arrays and transfers them; this thread adopts them without a copy and
 * builds the frozen CategoryLists around them. The worker exits once it has answered, so nothing of its
 * heap stays.
 *
 * Fails closed: a list error in the worker is raised here with its own SG code, as loadCategories() would
 * raise it; a worker that dies or exits without an answer is SG_LIST_WORKER_FAILED. Either way the caller
 * (start, reload) keeps what it had.
 */
import { Worker } from 'node:worker_threads';
import { SchoolgateError, type ErrorCode } from '../errors.js';
import { workerScript } from '../worker-script.js';
import { loadEndpoints } from './endpoints-file.js';
import { loadCategories, type LoadedCategories, type LoadOptions } from './load.js';
import { loadCategoriesImage, type LoadedImage } from './load-snapshot.js';
import { listsOfImage, type LayeredImage } from './local-overlay.js';

export interface ListsJob {
  dir: string;
  opts: LoadOptions;
  /** Wait for one message before loading (OffThreadOptions.hold). */
  held: boolean;
}

export type ListsReply =
  | ({ ok: true; image: LayeredImage; snapshot: LoadedImage['snapshot'] } & Omit<LoadedCategories, 'lists'>)
  | {
      ok: false;
      error: { code?: ErrorCode; message: string; context?: Record<string, unknown>; suggestion?: string };
    };

export interface OffThreadOptions {
  /**
   * Tests: called with the worker once it runs; the worker reads nothing until what it returns settles (a
   * request can be shown answered while a load is under way, with no sleep).
   */
  hold?: (worker: Worker) => Promise<unknown> | undefined;
}

/** Whether the worker script is built (under vitest without a build, loads stay on this thread). */
export function listsWorkerBuilt(): boolean {
  return workerScript(import.meta.url, 'lists-worker.js').built;
}

export async function loadCategoriesOffThread(
  dir: string,
  opts: LoadOptions = {},
  off: OffThreadOptions = {},
): Promise<LoadedCategories> {
  const script = workerScript(import.meta.url, 'lists-worker.js');
  if (!script.built) {
    if (opts.snapshotDir === undefined) return loadCategories(dir, opts);
    return adopt({ ok: true, ...(await loadCategoriesImage(dir, opts)) }, opts);
  }
  const limits = opts.limits && {
    maxInvalidLines: opts.limits.maxInvalidLines,
    maxInvalidShare: opts.limits.maxInvalidShare,
  };
  const job: ListsJob = { dir, opts: { ...opts, limits }, held: off.hold !== undefined };
  const worker = new Worker(script.path, { workerData: job });
  const reply = await new Promise<ListsReply>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', (err) => reject(workerFailed(err.message)));
    worker.once('exit', (code) => reject(workerFailed(`it exited (code ${code}) without an answer`)));
    if (off.hold) {
      const go = () => worker.postMessage('go');
      void Promise.resolve(off.hold(worker)).then(go, go);
    }
  }).finally(() => void worker.terminate());
  return adopt(reply, opts);
}

/** The lists around a worker's reply (its arrays adopted, not copied), or its error raised here. */
async function adopt(reply: ListsReply, opts: LoadOptions): Promise<LoadedCategories> {
  if (!reply.ok) {
    const { code, message, context, suggestion } = reply.error;
    if (code === undefined) throw new Error(message);
    throw new SchoolgateError(code, message, {
      ...(context ? { context } : {}),
      ...(suggestion ? { suggestion } : {}),
    });
  }
  const lists = await listsOfImage(reply.image, await loadEndpoints(opts.local?.dir));
  return { lists, counts: reply.counts, warnings: reply.warnings, snapshot: reply.snapshot };
}

function workerFailed(why: string): SchoolgateError {
  return new SchoolgateError('SG_LIST_WORKER_FAILED', `the list-loading worker failed: ${why}`, {
    suggestion: 'run `schoolgate reload` again; if it fails again, see the log for what stopped the worker',
  });
}
