/**
 * The worker thread of loadCategoriesOffThread() (load-off-thread.ts): reads the index snapshot, or reads
 * and indexes every list file as loadCategories() does (load-snapshot.ts), then posts the index with its typed arrays' buffers transferred (moved to the
 * main thread, not copied). The main thread keeps answering requests while this runs.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { isSchoolgateError } from '../errors.js';
import { ListIndex } from '../policy/list-index.js';
import { loadCategoriesImage } from './load-snapshot.js';
import type { ListsJob, ListsReply } from './load-off-thread.js';

async function run(job: ListsJob): Promise<void> {
  const port = parentPort!;
  // Held by a test until it has seen a request answered while this load is under way.
  if (job.held) await new Promise((resolve) => port.once('message', resolve));
  try {
    const { image, counts, warnings, snapshot } = await loadCategoriesImage(job.dir, job.opts);
    const reply: ListsReply = { ok: true, image, counts, warnings, snapshot };
    // Arrays read from a snapshot share one buffer: each buffer is listed once.
    const buffers = ListIndex.buffers(image.index);
    if (image.overlay) buffers.push(...ListIndex.buffers(image.overlay.index));
    port.postMessage(reply, [...new Set(buffers)]);
  } catch (err) {
    const reply: ListsReply = {
      ok: false,
      error: isSchoolgateError(err)
        ? { code: err.code, message: err.message, context: err.context, suggestion: err.suggestion }
        : { message: err instanceof Error ? err.message : String(err) },
    };
    port.postMessage(reply);
  }
}

void run(workerData as ListsJob);
