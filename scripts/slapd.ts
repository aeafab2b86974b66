/**
 * A real OpenLDAP server (Debian's slapd) for the directory sign-in tests and bench-ldap: its own slapd.conf and database
 * in a temp dir, loaded from an LDIF fixture with slapadd, listening on a loopback port — no system service.
 * Readiness and binds are read from slapd's own log (stats level on stderr): no sleeps.
 *
 *   const ldap = findSlapd();                 // null when slapd is not installed: describe.skipIf
 *   const server = await startSlapd(ldif);    // server.url, server.bindCount(), await server.stop()
 *   const again = await server.restart();     // after stop(): the same port(s) and database, a new handle
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import net from 'node:net';
import path from 'node:path';

export const SLAPD_PATH = '/usr/sbin/slapd';
const MODULES = '/usr/lib/ldap';
const SCHEMAS = '/etc/ldap/schema';
export const SUFFIX = 'dc=school,dc=test';
export const SERVICE_DN = `cn=schoolgate,ou=Service,${SUFFIX}`;
export const SERVICE_PASSWORD = 'service-secret';
export const ADMIN_DN = `cn=admin,${SUFFIX}`;
export const ADMIN_PASSWORD = 'admin-secret';
export const YEAR7_DN = `cn=Year7,ou=Groups,${SUFFIX}`;
export const STAFF_DN = `cn=Staff,ou=Groups,${SUFFIX}`;

export function findSlapd(): string | null {
  return existsSync(SLAPD_PATH) && existsSync(path.join(MODULES, 'back_mdb.so')) ? SLAPD_PATH : null;
}

export const SLAPD_SKIP_MESSAGE = `slapd not found at ${SLAPD_PATH}: directory sign-in tests skipped (DEBIAN_FRONTEND=noninteractive apt-get install -y slapd ldap-utils)`;

export interface Slapd {
  log(): string;
  url: string;
  /** With `tls`: ldaps:// on a second port (the ldap:// one offers StartTLS). */
  ldapsUrl: string | null;
  port: number;
  dir: string;
  /** Simple binds slapd has answered as `dn` since start (from its stats log), any result. */
  bindCount(dn: string): number;
  stop(): Promise<void>;
  /** After stop(): slapd again on the same port(s) with the same database (a directory back from an outage). */
  restart(): Promise<Slapd>;
}

interface Ports {
  port: number;
  ldapsPort: number | null;
}

/** A port on 127.0.0.1 nobody listens on right now (the OS hands out a free one; closed again). */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** slapd on a free loopback port, loaded from `ldif` (whose suffix must be SUFFIX). */
export async function startSlapd(ldif: string, tls?: { certPem: string; keyPem: string }): Promise<Slapd> {
  const dir = mkdtempSync(path.join(tmpdir(), 'schoolgate-slapd-'));
  const db = path.join(dir, 'db');
  mkdirSync(db);
  const conf = path.join(dir, 'slapd.conf');
  writeFileSync(
    conf,
    [
      `include ${SCHEMAS}/core.schema`,
      `include ${SCHEMAS}/cosine.schema`,
      `include ${SCHEMAS}/inetorgperson.schema`,
      `include ${SCHEMAS}/nis.schema`,
      `pidfile ${path.join(dir, 'slapd.pid')}`,
      `modulepath ${MODULES}`,
      'moduleload back_mdb',
      'loglevel stats',
      ...(tls
        ? [
            `TLSCertificateFile ${writeSecret(dir, 'server.crt', tls.certPem)}`,
            `TLSCertificateKeyFile ${writeSecret(dir, 'server.key', tls.keyPem)}`,
          ]
        : []),
      'database mdb',
      `suffix "${SUFFIX}"`,
      `rootdn "${ADMIN_DN}"`,
      // Tests change the directory while it runs (a person taken out of a group).
      `rootpw ${ADMIN_PASSWORD}`,
      `directory ${db}`,
      'maxsize 10485760',
      // Passwords are for binding only; the service account reads the rest.
      'access to attrs=userPassword by anonymous auth by * none',
      'access to * by users read by * none',
      '',
    ].join('\n'),
  );
  execFileSync('/usr/sbin/slapadd', ['-f', conf, '-l', ldif], { stdio: 'pipe', timeout: 30_000 });
  return launchListening(conf, tls !== undefined, dir, null);
}

/** On `ports` (free ones when null). */
async function launchListening(
  conf: string,
  withTls: boolean,
  dir: string,
  ports: Ports | null,
): Promise<Slapd> {
  // "slapd starting" comes before the listeners are up, and their start can still fail (seen with two
  // listeners started in quick succession): wait until a connection is accepted, else start again.
  for (let attempt = 1; ; attempt++) {
    const started = await launch(conf, withTls, dir, ports);
    if (started) return started;
    if (attempt === 3) throw new Error('slapd did not start listening in 3 attempts');
  }
}

async function launch(
  conf: string,
  withTls: boolean,
  dir: string,
  ports: Ports | null,
): Promise<Slapd | null> {
  const port = ports?.port ?? (await freePort());
  const url = `ldap://127.0.0.1:${port}`;
  const ldapsPort = withTls ? (ports?.ldapsPort ?? (await freePort())) : null;
  const ldapsUrl = ldapsPort === null ? null : `ldaps://127.0.0.1:${ldapsPort}`;
  const listen = [url, ...(ldapsUrl ? [ldapsUrl] : [])].map((u) => `${u}/`).join(' ');
  const child: ChildProcess = spawn(SLAPD_PATH, ['-f', conf, '-h', listen, '-d', 'stats'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let log = '';
  let started = () => {};
  child.stderr!.on('data', (chunk: Buffer) => {
    log += chunk.toString('utf8');
    if (/slapd starting/.test(log)) started();
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const up = await new Promise<boolean>((resolve) => {
    started = () => resolve(true);
    child.once('exit', () => resolve(false));
  });
  if (!up || !(await accepts(port, exited, ldapsUrl ? Number(new URL(ldapsUrl).port) : null))) {
    if (child.exitCode === null) child.kill('SIGTERM');
    await exited;
    return null;
  }
  return {
    log: () => log,
    url,
    ldapsUrl,
    port,
    dir,
    bindCount: (dn) => {
      const re = new RegExp(`BIND dn="${dn.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}" method=128`, 'gi');
      return (log.match(re) ?? []).length;
    },
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
    },
    restart: () => launchListening(conf, withTls, dir, { port, ldapsPort }),
  };
}

/** Whether both ports accept a connection before slapd exits (a refused connect is tried again). */
async function accepts(port: number, exited: Promise<void>, second: number | null): Promise<boolean> {
  let gone = false;
  void exited.then(() => (gone = true));
  for (const p of second === null ? [port] : [port, second]) {
    let ok = false;
    for (let i = 0; i < 1_000 && !ok && !gone; i++) ok = await connectOnce(p);
    if (!ok) return false;
  }
  return !gone;
}

function connectOnce(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

function writeSecret(dir: string, name: string, pem: string): string {
  const file = path.join(dir, name);
  writeFileSync(file, pem, { mode: 0o600 });
  return file;
}
