/**
 * Squid and e2guardian refuse to keep root: started by root they switch to their packaged user, which must
 * then own its folder and be able to reach it through the root-owned bench folder above.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';

/** Under root: hands `dir` (recursively) to `user` and opens the folders above it up to `top` for traversal. */
export function handOver(dir: string, top: string, user: string): boolean {
  if (process.getuid?.() !== 0) return false;
  const id = (flag: string) => Number(execFileSync('id', [flag, user], { encoding: 'utf8' }).trim());
  chownTree(dir, id('-u'), id('-g'));
  for (let d = path.dirname(dir); d.startsWith(top); d = path.dirname(d)) chmodSync(d, 0o755);
  return true;
}

function chownTree(dir: string, uid: number, gid: number): void {
  chownSync(dir, uid, gid);
  for (const e of readdirSync(dir)) {
    const p = path.join(dir, e);
    if (statSync(p).isDirectory()) chownTree(p, uid, gid);
    else chownSync(p, uid, gid);
  }
}

/** Whether this process is root (then the daemon must be told which user to run as). */
export const isRoot = () => process.getuid?.() === 0;
