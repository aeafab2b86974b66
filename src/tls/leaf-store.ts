/**
 * Minted leaf certificates on disk, in `<data>/leaves/` (folder 0700, files 0600), so a restart does not
 * sign the school's busiest hosts again: one PEM file per host, named by a hash of the host (no host text
 * in a path), and the shared leaf key they were made for (`leaf-key.pem`). The folder keeps at most
 * `maxFiles` certificates: the least recently used (by mtime, touched when a file is read back) go first.
 *
 * Nothing read from here is trusted as is: leaf.ts checks every certificate against the current CA, the
 * leaf key, the host and the clock before it serves it, and signs a new one otherwise.
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
  utimesSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';

const KEY_FILE = 'leaf-key.pem';

export class LeafStore {
  private writesSincePrune = 0;

  constructor(
    readonly dir: string,
    private readonly maxFiles: number,
  ) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    chmodSync(dir, 0o700);
    this.prune();
  }

  /** The stored leaf key if `usable` accepts it, else a new one from `generate`, written owner-only. */
  key(usable: (pem: string) => boolean, generate: () => string): string {
    const file = path.join(this.dir, KEY_FILE);
    const stored = readOrNull(file);
    if (stored !== null && usable(stored)) return stored;
    const pem = generate();
    this.writeAtomically(file, pem);
    return pem;
  }

  /** The stored certificate PEM for `host`, or null; a hit counts as a use (kept longer by prune). */
  read(host: string): string | null {
    const file = this.fileOf(host);
    const pem = readOrNull(file);
    if (pem !== null) {
      const now = new Date();
      try {
        utimesSync(file, now, now);
      } catch {
        // Only the pruning order depends on it.
      }
    }
    return pem;
  }

  write(host: string, certPem: string): void {
    this.writeAtomically(this.fileOf(host), certPem);
    if (++this.writesSincePrune > Math.max(16, this.maxFiles / 4)) this.prune();
  }

  /** Removes the least recently used certificates beyond maxFiles (and stray temporary files). */
  prune(): void {
    this.writesSincePrune = 0;
    const certs: { file: string; used: number }[] = [];
    for (const name of readdirSync(this.dir)) {
      const file = path.join(this.dir, name);
      if (name.endsWith('.tmp')) rmSync(file, { force: true });
      else if (name !== KEY_FILE && name.endsWith('.pem')) {
        const used = statSync(file, { throwIfNoEntry: false })?.mtimeMs;
        if (used !== undefined) certs.push({ file, used });
      }
    }
    if (certs.length <= this.maxFiles) return;
    certs.sort((a, b) => a.used - b.used);
    for (const { file } of certs.slice(0, certs.length - this.maxFiles)) rmSync(file, { force: true });
  }

  private fileOf(host: string): string {
    return path.join(this.dir, `${createHash('sha256').update(host).digest('hex').slice(0, 40)}.pem`);
  }

  /** Written beside and renamed in: a crash never leaves half a certificate or key under the real name. */
  private writeAtomically(file: string, text: string): void {
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, text, { mode: 0o600 });
    chmodSync(tmp, 0o600); // the umask cannot widen it, but be explicit
    renameSync(tmp, file);
  }
}

function readOrNull(file: string): string | null {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return null;
  }
}
