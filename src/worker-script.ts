/**
 * Where a worker thread's script is. Worker threads need JavaScript: from dist/ it is the compiled sibling
 * of the module that starts it; when the sources run under vitest it is that sibling in the build output
 * (`npm test` builds first). Null when it has not been built.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
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
