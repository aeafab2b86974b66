/**
 * One proxy per data directory. Two `serve` processes on one directory would both write the audit log
 * and the second would have no control socket, so `reload` and `status` would reach only one of them.
 * `startSchoolgate` claims the directory before it loads anything:
 *
 * - the lock file `<data>/serve.lock` holds the PID of the proxy that owns the directory. It appears
 *   atomically with its content (written to a private temp file, then hard-linked into place, which fails
 *   with EEXIST like `open(..., 'wx')` but never shows an empty lock). A lock whose PID no longer runs
 *   (`process.kill(pid, 0)`) was left by a proxy that died; it is taken over, with a log line. It is
 *   removed on stop.
 * - `<data>/control.sock`: if something answers on it (a proxy that predates the lock, or whose lock
 *   file was deleted), this one refuses too.
 *
 * Either refusal is SG_ALREADY_RUNNING naming the other proxy's PID.
 */
import { randomBytes } from 'node:crypto';
import {
  closeSync,
  existsSync,
  fchmodSync,
  fsyncSync,
  linkSync,
  openSync,
  readFileSync,
  renameSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import type { Logger } from 'pino';
import { SchoolgateError } from '../errors.js';
import { controlRequest, controlSocketPath } from './control.js';
import { makePrivateDir, PRIVATE_FILE_MODE } from './file-modes.js';

export const SERVE_LOCK = 'serve.lock';

export function serveLockPath(dataDir: string): string {
  return path.join(path.resolve(dataDir), SERVE_LOCK);
}

export interface ServeLock {
  path: string;
  /** Removes the lock file if it is still this process's. Safe to call more than once. */
  release(): void;
}

/** Lock files this process holds: a second start in the same process is refused like one in another. */
const held = new Set<string>();

/** Takes `<data>/serve.lock` and checks the control socket; SG_ALREADY_RUNNING if another proxy has either. */
export async function claimDataDir(dataDir: string, logger: Logger): Promise<ServeLock> {
  const lock = takeLock(dataDir, logger);
  try {
    await refuseIfControlAnswers(dataDir);
  } catch (err) {
    lock.release();
    throw err;
  }
  return lock;
}

function takeLock(dataDir: string, logger: Logger): ServeLock {
  const file = serveLockPath(dataDir);
  try {
    makePrivateDir(path.dirname(file));
  } catch (err) {
    throw unwritable(file, err);
  }
  let tookOver: Holder | undefined;
  // A few rounds: each lost race (another proxy took or removed the lock meanwhile) starts over.
  for (let round = 0; round < 5; round++) {
    const stale = tryCreate(file);
    if (stale === 'created') {
      held.add(file);
      if (tookOver)
        logger.warn(
          { lock: file, stalePid: tookOver.pid ?? null },
          tookOver.pid === undefined
            ? `took over the lock ${file}: it named no process (${JSON.stringify(tookOver.text.slice(0, 40))})`
            : `took over the stale lock ${file}: schoolgate pid ${tookOver.pid} is no longer running`,
        );
      return { path: file, release: () => release(file) };
    }
    if (stale === 'gone') continue;
    if (stale.pid !== undefined && isRunning(stale.pid, file)) throw alreadyRunning(dataDir, stale.pid, file);
    // Dead (or unreadable) holder: move the lock aside, and make sure what was moved is the one judged.
    const aside = `${file}.stale-${process.pid}-${randomBytes(4).toString('hex')}`;
    try {
      renameSync(file, aside);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw unwritable(file, err);
    }
    const moved = readHolder(aside);
    if (moved !== 'gone' && moved.text !== stale.text) {
      // Another proxy replaced the stale lock between our read and the rename: put its lock back.
      try {
        linkSync(aside, file);
      } catch {
        // a third one took the place meanwhile: the next round reads whoever it is
      }
      unlinkQuietly(aside);
      continue;
    }
    unlinkQuietly(aside);
    tookOver = stale;
  }
  throw alreadyRunning(dataDir, undefined, file);
}

type Holder = { pid: number | undefined; text: string };

/** 'created', or who holds the lock now ('gone' when it vanished before it could be read). */
function tryCreate(file: string): 'created' | 'gone' | Holder {
  const tmp = `${file}.new-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    const fd = openSync(tmp, 'wx', PRIVATE_FILE_MODE);
    try {
      fchmodSync(fd, PRIVATE_FILE_MODE);
      writeSync(fd, `${process.pid}\n`);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    linkSync(tmp, file); // atomic, and EEXIST when the lock exists: the O_EXCL of this scheme
    return 'created';
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw unwritable(file, err);
    return readHolder(file);
  } finally {
    unlinkQuietly(tmp);
  }
}

function readHolder(file: string): 'gone' | Holder {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 'gone';
    throw unwritable(file, err);
  }
  const m = /^\s*(\d+)\s*$/.exec(text);
  const pid = m ? Number(m[1]) : undefined;
  return { pid: pid !== undefined && Number.isSafeInteger(pid) && pid > 0 ? pid : undefined, text };
}

/**
 * Is the lock's holder alive? `kill(pid, 0)` checks without signalling; EPERM means it runs as another
 * user. Our own PID is a lock this process holds (a second start in it), or one left by an earlier
 * process that had the same PID (a container restarted: the proxy is PID 1 every time).
 */
function isRunning(pid: number, file: string): boolean {
  if (pid === process.pid) return held.has(file);
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function release(file: string): void {
  if (!held.delete(file)) return;
  const holder = readHolder(file);
  if (holder !== 'gone' && holder.pid === process.pid) unlinkQuietly(file);
}

async function refuseIfControlAnswers(dataDir: string): Promise<void> {
  const socketPath = controlSocketPath(dataDir);
  if (!existsSync(socketPath)) return;
  const answers = await new Promise<boolean>((resolve) => {
    const s = net.connect(socketPath);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
  // Nobody answers: a proxy that was killed left it; the control server replaces it when it starts.
  if (!answers) return;
  const pid = await controlRequest<{ pid?: unknown }>(dataDir, 'status', {}, 10_000).then(
    (s) => (typeof s.pid === 'number' ? s.pid : undefined),
    () => undefined,
  );
  throw alreadyRunning(dataDir, pid, socketPath);
}

function alreadyRunning(dataDir: string, pid: number | undefined, holder: string): SchoolgateError {
  const who = pid === undefined ? 'another schoolgate' : `another schoolgate (pid ${pid})`;
  return new SchoolgateError(
    'SG_ALREADY_RUNNING',
    `${who} is serving the data directory ${path.resolve(dataDir)} (${holder}); this one does not start`,
    {
      context: { dataDir: path.resolve(dataDir), pid, holder },
      suggestion:
        `Stop it first${pid === undefined ? '' : ` (kill -TERM ${pid}, or through the service manager)`}, or ` +
        `give this one another --data directory. If no schoolgate is running${pid === undefined ? '' : ` as pid ${pid}`}, ` +
        `remove ${serveLockPath(dataDir)}.`,
    },
  );
}

function unwritable(file: string, err: unknown): SchoolgateError {
  return new SchoolgateError(
    'SG_FILE_UNREADABLE',
    `cannot take the lock file ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
    {
      context: { file },
      suggestion: 'Make the data directory writable by the user schoolgate runs as, or give another --data.',
      cause: err,
    },
  );
}

function unlinkQuietly(file: string): void {
  try {
    unlinkSync(file);
  } catch {
    // already gone
  }
}
