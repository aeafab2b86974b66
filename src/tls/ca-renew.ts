/**
 * Rolling the school CA over without a day of certificate errors: `stageNextCa` makes the next CA beside the
 * signing one (schoolgate-ca.next.crt/.key) for devices to install while the current one still signs;
 * `activateNextCa` makes it the signing CA once devices have it, keeping the old certificate as
 * schoolgate-ca.previous.crt (devices keep it installed until it expires; nothing more is signed with it).
 *
 * Activation is explicit (a technician runs it when the GPO/MDM rollout is done), never on a timer: only the
 * school knows when its devices hold the new certificate, and a CA switched too early is a day of errors.
 * Every file is written beside its destination and renamed into place; activation copies (never moves) the
 * next files, so a crash part-way leaves them there and running it again finishes the job.
 */
import { randomBytes, X509Certificate } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { SchoolgateError } from '../errors.js';
import { caPaths, generateCa, readCaFiles, type CaPaths, type SchoolCa } from './ca.js';

export const NEXT_CA_CERT_FILE = 'schoolgate-ca.next.crt';
export const NEXT_CA_KEY_FILE = 'schoolgate-ca.next.key';
export const PREVIOUS_CA_CERT_FILE = 'schoolgate-ca.previous.crt';

export function nextCaPaths(certsDir: string): CaPaths {
  return { cert: path.join(certsDir, NEXT_CA_CERT_FILE), key: path.join(certsDir, NEXT_CA_KEY_FILE) };
}

/**
 * The staged next CA, or null when none is staged. A key without its certificate is a staging cut short
 * (the certificate is renamed in last): not staged. A certificate without its key, or a pair that does not
 * match, is SG_CA_UNUSABLE.
 */
export function readNextCa(certsDir: string): SchoolCa | null {
  const paths = nextCaPaths(certsDir);
  if (!existsSync(paths.cert)) return null;
  return readCaFiles(paths, certsDir);
}

/** The generation of the CA in `certPem` (1 for a CA made by `ca init` or a first start). */
export function caGeneration(subject: string): number {
  const m = /, gen (\d{1,6})\)/.exec(subject);
  return m ? Number(m[1]) : 1;
}

/**
 * Stages the next CA; an already staged one is kept (`created: false`) unless `force`: devices may have
 * installed it already.
 */
export function stageNextCa(
  certsDir: string,
  opts: { force?: boolean; now?: Date; name?: string | null } = {},
): { next: SchoolCa; created: boolean } {
  if (!opts.force) {
    const staged = readNextCa(certsDir);
    if (staged) return { next: staged, created: false };
  }
  mkdirSync(certsDir, { recursive: true });
  const generation = currentGeneration(certsDir) + 1;
  const { certPem, keyPem } = generateCa(opts.now, { generation, name: opts.name ?? null });
  const paths = nextCaPaths(certsDir);
  writeInPlace(paths.key, keyPem, 0o600);
  writeInPlace(paths.cert, certPem, 0o644);
  return { next: readCaFiles(paths, certsDir), created: true };
}

/**
 * Makes the staged CA the signing CA. The running proxy picks it up on `schoolgate reload` (its leaf cache is
 * emptied then: every new inspected connection gets a leaf signed by the new CA).
 */
export function activateNextCa(
  certsDir: string,
  now = new Date(),
): { activated: SchoolCa; previous: X509Certificate | null } {
  const next = readNextCa(certsDir);
  if (!next)
    throw new SchoolgateError('SG_ARGUMENT_INVALID', `no next school CA is staged in ${certsDir}`, {
      context: { certsDir },
      suggestion:
        'run `schoolgate ca renew` first, install the new certificate on devices, then `ca renew --activate`',
    });
  if (next.notAfter.getTime() <= now.getTime() || next.notBefore.getTime() > now.getTime())
    throw new SchoolgateError(
      'SG_CA_UNUSABLE',
      `the staged next CA is not valid now (${next.notBefore.toISOString()} to ${next.notAfter.toISOString()})`,
      { context: { certsDir }, suggestion: 'stage a new one with `schoolgate ca renew --force`' },
    );
  const current = caPaths(certsDir);
  const previous = readCertificate(current.cert);
  // The file as it was (not re-encoded): what devices installed, byte for byte.
  if (previous && previous.x509.fingerprint256 !== next.fingerprint256)
    writeInPlace(path.join(certsDir, PREVIOUS_CA_CERT_FILE), previous.pem, 0o644);
  // Key first: a crash between the two leaves a pair that does not match, which loads as SG_CA_UNUSABLE
  // (fail closed) until this runs again, never a certificate signed by a key it does not name.
  writeInPlace(current.key, readFileSync(nextCaPaths(certsDir).key, 'utf8'), 0o600);
  writeInPlace(current.cert, next.certPem, 0o644);
  rmSync(nextCaPaths(certsDir).cert, { force: true });
  rmSync(nextCaPaths(certsDir).key, { force: true });
  return { activated: readCaFiles(current, certsDir), previous: previous?.x509 ?? null };
}

function currentGeneration(certsDir: string): number {
  const cert = readCertificate(caPaths(certsDir).cert);
  return cert ? caGeneration(cert.x509.subject.replace(/\n/g, ', ')) : 1;
}

/** The certificate in `file`, or null when there is none or it cannot be read (only its name is wanted). */
function readCertificate(file: string): { x509: X509Certificate; pem: string } | null {
  try {
    const pem = readFileSync(file, 'utf8');
    return { x509: new X509Certificate(pem), pem };
  } catch {
    return null;
  }
}

/** Writes beside `file` and renames into place: a reader sees the old content or the new, never half. */
function writeInPlace(file: string, content: string, mode: number): void {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    writeFileSync(tmp, content, { mode });
    chmodSync(tmp, mode); // the umask cannot widen it, but be explicit
    renameSync(tmp, file);
  } finally {
    rmSync(tmp, { force: true });
  }
}
