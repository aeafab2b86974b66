/** Waits on file-system events (never a sleep) until a file holds at least `count` lines. */
import { existsSync, readFileSync, watch } from 'node:fs';
import path from 'node:path';

export function readLines(file: string): string[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8').split('\n').filter(Boolean);
}

export function waitForLines(file: string, count: number, timeoutMs = 15_000): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const watcher = watch(path.dirname(file), () => void check());
    const timer = setTimeout(() => {
      watcher.close();
      reject(new Error(`${file} never had ${count} lines:\n${readLines(file).join('\n')}`));
    }, timeoutMs);
    const check = (): void => {
      const lines = readLines(file);
      if (lines.length < count) return;
      clearTimeout(timer);
      watcher.close();
      resolve(lines);
    };
    check();
  });
}
