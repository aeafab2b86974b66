/**
 * An NSS certificate database that trusts a CA, as on an enrolled school device. Chromium on Linux reads
 * $HOME/.pki/nssdb, so a browser run with HOME set to the directory returned here trusts the CA's leaves
 * the normal way: no --ignore-certificate-errors of any kind. Needs Debian's libnss3-tools (certutil).
 *
 *   const certutil = findCertutil();
 *   const home = nssHomeTrusting(caPem); // then chromiumDumpDom({ ..., home })
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const CERTUTIL_PATH = '/usr/bin/certutil';

/** certutil, or null when libnss3-tools is not installed (use with describe.skipIf). */
export function findCertutil(): string | null {
  return existsSync(CERTUTIL_PATH) ? CERTUTIL_PATH : null;
}

export const CERTUTIL_SKIP_MESSAGE = `certutil not found at ${CERTUTIL_PATH}: tests that trust the school CA through NSS skipped (apt-get install -y libnss3-tools)`;

/**
 * A fresh HOME whose .pki/nssdb trusts `caPem` as a CA for websites (trust flags "C,,"). Returns the HOME
 * directory; the database is `sql:<home>/.pki/nssdb`.
 */
export function nssHomeTrusting(caPem: string, nickname = 'schoolgate'): string {
  const certutil = findCertutil();
  if (!certutil) throw new Error(CERTUTIL_SKIP_MESSAGE);
  const home = mkdtempSync(join(tmpdir(), 'sg-nss-home-'));
  const db = join(home, '.pki', 'nssdb');
  mkdirSync(db, { recursive: true, mode: 0o700 });
  const caFile = join(home, `${nickname}-ca.pem`);
  writeFileSync(caFile, caPem);
  const run = (args: string[]): string =>
    execFileSync(certutil, args, { encoding: 'utf8', timeout: 15_000, stdio: ['ignore', 'pipe', 'pipe'] });
  run(['-N', '-d', `sql:${db}`, '--empty-password']);
  run(['-A', '-d', `sql:${db}`, '-n', nickname, '-t', 'C,,', '-i', caFile]);
  const listed = run(['-L', '-d', `sql:${db}`]);
  if (!new RegExp(`^${nickname}\\s+C,,`, 'm').test(listed))
    throw new Error(`certutil did not record ${nickname} as a trusted CA in ${db}:\n${listed}`);
  return home;
}
