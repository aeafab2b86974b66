/** The digest's worker thread: composes one digest (compose.ts) and answers once. */
import { parentPort, workerData } from 'node:worker_threads';
import { composeDigest, type ComposeReply, type DigestInput } from './compose.js';

let reply: ComposeReply;
try {
  reply = { ok: true, digest: await composeDigest(workerData as DigestInput) };
} catch (err) {
  reply = { ok: false, error: err instanceof Error ? err.message : String(err) };
}
parentPort!.postMessage(reply);
