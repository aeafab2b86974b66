/**
 * The worker thread of loadCategoriesOffThread() (load-off-thread.ts): reads and indexes every list file
 * as loadCategories() does, then posts the index with its typed arrays' buffers transferred (moved to the
 * main thread, not copied). The main thread keeps answering requests while this runs.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { isSchoolgateError } from '../errors.js';
import { CategoryListsBuilder } from '../policy/lists.js';
import { ListIndex } from '../policy/list-index.js';
import { fillCategories } from './load.js';
import type { ListsJob, ListsReply } from './load-off-thread.js';

async function run(job: ListsJob): Promise<void> {
  const port = parentPort!;
  // Held by a test until it has seen a request answered while this load is under way.
  if (job.held) await new Promise((resolve) => port.once('message', resolve));
  try {
    const builder = new CategoryListsBuilder();
    const { counts, warnings } = await fillCategories(builder, job.dir, job.opts);
    const image = builder.image();
    const reply: ListsReply = { ok: true, image, counts, warnings };
    port.postMessage(reply, ListIndex.buffers(image.index));
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
