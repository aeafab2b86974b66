/**
 * Minted leaf certificates on disk, in `<data>/leaves/` (folder 0700, files 0600), so a restart does not
 * sign the school's busiest hosts again: one PEM file per host, named by a hash of the host (no host text
 * in a path), and the shared leaf key they were made for (`leaf-key.pem`). The folder keeps at most
 * `maxFiles` certificates: the least recently used (by mtime, touched when a file is read back) go first.
 *
 * Nothing read from here is trusted as is: leaf.ts checks every certificate against the current CA, the
 * leaf key, the host and the clock before it serves it, and signs a new one otherwise.
 *
 * Off the handshake's path: certificates are written in the background, one at a time (a write that fails
 * or is dropped only costs a signing after the next restart), and the names of the files on disk are kept
 * in memory, so a host never minted costs no failed open. Another process writing here (serve --workers)
 * is only seen after a restart: this one signs that host again, which is correct, only slower.
 */
import { createHash } from 'node:crypto';
import {
  chmodSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';

const KEY_FILE = 'leaf-key.pem';
/** Writes waiting beyond this are dropped (a disk slower than signing): memory stays bounded. */
const MAX_QUEUED_WRITES = 1_000;

export class LeafStore {
  private writesSincePrune = 0;
  /** Certificate file names on disk (as far as this process knows). */
  private readonly files = new Set<string>();
  /** The background writes, in order; each step catches its own failure. */
  private queue: Promise<void> = Promise.resolve();
  private queued = 0;

  constructor(
    readonly dir: string,
    private readonly maxFiles: number,
  ) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    chmodSync(dir, 0o700);
    this.pruneNow();
  }

  /** The stored leaf key if `usable` accepts it, else a new one from `generate`, written owner-only. */
  key(usable: (pem: string) => boolean, generate: () => string): string {
    const file = path.join(this.dir, KEY_FILE);
    const stored = readOrNull(file);
    if (stored !== null && usable(stored)) return stored;
    const pem = generate();
    this.writeKey(pem);
    return pem;
  }

  /** The stored certificate PEM for `host`, or null; a hit counts as a use (kept longer by prune). */
  read(host: string): string | null {
    const name = nameOf(host);
    if (!this.files.has(name)) return null;
    const file = path.join(this.dir, name);
    const pem = readOrNull(file);
    if (pem === null) this.files.delete(name);
    else {
      const now = new Date();
      // Only the pruning order depends on it.
      fs.utimes(file, now, now).catch(() => undefined);
    }
    return pem;
  }

  /**
   * Queues `certPem` to be written for `host` and returns at once; the promise settles when it is on disk
   * (rejects when it could not be, or was dropped because too many writes wait).
   */
  write(host: string, certPem: string): Promise<void> {
    if (this.queued >= MAX_QUEUED_WRITES) return Promise.reject(new Error('too many leaf writes waiting'));
    this.queued++;
    const name = nameOf(host);
    const written = this.queue.then(async () => {
      try {
        await writeAtomically(path.join(this.dir, name), certPem);
        this.files.add(name);
        if (++this.writesSincePrune > Math.max(16, this.maxFiles / 4)) await this.prune();
      } finally {
        this.queued--;
      }
    });
    this.queue = written.catch(() => undefined);
    return written;
  }

  /** Settles when every write queued so far has finished (tests, and a stop that wants them kept). */
  idle(): Promise<void> {
    return this.queue;
  }

  /** Removes the least recently used certificates beyond maxFiles (and stray temporary files). */
  private async prune(): Promise<void> {
    this.writesSincePrune = 0;
    const certs: { name: string; used: number }[] = [];
    for (const name of await fs.readdir(this.dir)) {
      const file = path.join(this.dir, name);
      if (name.endsWith('.tmp')) await fs.rm(file, { force: true });
      else if (isCertName(name)) {
        const used = (await fs.stat(file).catch(() => undefined))?.mtimeMs;
        if (used !== undefined) certs.push({ name, used });
      }
    }
    for (const name of this.keepNewest(certs)) await fs.rm(path.join(this.dir, name), { force: true });
  }

  /** The same, at start (synchronous: nothing is served yet). */
  private pruneNow(): void {
    const certs: { name: string; used: number }[] = [];
    for (const name of readdirSync(this.dir)) {
      const file = path.join(this.dir, name);
      if (name.endsWith('.tmp')) rmFile(file);
      else if (isCertName(name)) {
        const used = statSync(file, { throwIfNoEntry: false })?.mtimeMs;
        if (used !== undefined) certs.push({ name, used });
      }
    }
    for (const name of this.keepNewest(certs)) rmFile(path.join(this.dir, name));
  }

  /** Remembers the maxFiles most recently used of `certs` as the files on disk; returns the rest to remove. */
  private keepNewest(certs: { name: string; used: number }[]): string[] {
    this.files.clear();
    certs.sort((a, b) => b.used - a.used);
    for (const { name } of certs.slice(0, this.maxFiles)) this.files.add(name);
    return certs.slice(this.maxFiles).map((c) => c.name);
  }

  private writeKey(text: string): void {
    const file = path.join(this.dir, KEY_FILE);
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, text, { mode: 0o600 });
    chmodSync(tmp, 0o600); // the umask cannot widen it, but be explicit
    renameSync(tmp, file);
  }
}

function nameOf(host: string): string {
  return `${createHash('sha256').update(host).digest('hex').slice(0, 40)}.pem`;
}

function isCertName(name: string): boolean {
  return name !== KEY_FILE && name.endsWith('.pem');
}

let tmpCounter = 0;

/** Written beside and renamed in: a crash never leaves half a certificate under the real name. */
async function writeAtomically(file: string, text: string): Promise<void> {
  const tmp = `${file}.${process.pid}.${++tmpCounter}.tmp`;
  await fs.writeFile(tmp, text, { mode: 0o600 });
  await fs.chmod(tmp, 0o600); // the umask cannot widen it, but be explicit
  await fs.rename(tmp, file);
}

function rmFile(file: string): void {
  try {
    rmSync(file, { force: true });
  } catch {
    // Pruning again later will retry.
  }
}

function readOrNull(file: string): string | null {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return null;
  }
}
