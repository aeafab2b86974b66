/**
 * Where a worker thread's script is. Worker threads need JavaScript: from dist/ it is the compiled sibling
 * of the module that starts it; when the sources run under vitest it is that sibling in the build output
 * (`npm test` builds first). Null when it has not been built.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';

/** `moduleUrl`: the starting module's import.meta.url; `fileName`: the worker, e.g. 'writer-worker.js'. */
export function workerScript(moduleUrl: string, fileName: string): { path: string; built: boolean } {
  const here = fileURLToPath(moduleUrl);
  if (here.endsWith('.js')) return { path: path.join(path.dirname(here), fileName), built: true };
  const srcAt = here.lastIndexOf(`${path.sep}src${path.sep}`);
  const root = here.slice(0, srcAt);
  const built = path.join(root, 'dist', path.relative(root, path.dirname(here)), fileName);
  return { path: built, built: existsSync(built) };
}

/**
 * Starts a worker for one job and resolves with its one reply (`{ ok: true, ... }`), rejecting on an
 * error reply, a crash or an exit before replying. `started` receives the worker (to terminate it early).
 */
export async function runWorkerOnce<T>(
  script: string,
  workerData: unknown,
  started?: (worker: Worker) => void,
): Promise<Extract<T, { ok: true }>> {
  const worker = new Worker(script, { workerData });
  started?.(worker);
  try {
    const reply = await new Promise<T>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
      worker.once('exit', (code) => reject(new Error(`the worker ${script} stopped (exit code ${code})`)));
    });
    const r = reply as { ok: boolean; error?: string };
    if (!r.ok) throw new Error(r.error ?? 'the worker failed');
    return reply as Extract<T, { ok: true }>;
  } finally {
    void worker.terminate();
  }
}
