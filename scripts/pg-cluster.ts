/**
 * A private PostgreSQL cluster (Debian's postgresql) for the PostgreSQL store tests and scripts/bench-store.ts:
 * initdb into a temp dir, the server on a free loopback port and a socket in that dir, no system service.
 * As root (initdb refuses root) the cluster runs as the `postgres` OS user, else `nobody`. Readiness is
 * pg_ctl's own wait (`-w`: it watches the postmaster's status file) confirmed by pg_isready: no sleeps.
 *
 *   const bin = findPostgres();                  // null when not installed: describe.skipIf
 *   const pg = await startPgCluster();           // pg.url, await pg.stopServer() / startServer(), await pg.stop()
 */
import { execFile } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './slapd.js';

const run = promisify(execFile);
const ROOT = '/usr/lib/postgresql';

/** The bin folder of the newest installed PostgreSQL, or null. */
export function findPostgres(): string | null {
  if (!existsSync(ROOT)) return null;
  const versions = readdirSync(ROOT)
    .filter((v) => existsSync(path.join(ROOT, v, 'bin', 'initdb')))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] ? path.join(ROOT, versions[0], 'bin') : null;
}

export const PG_SKIP_MESSAGE = `initdb not found under ${ROOT}: PostgreSQL store tests skipped (DEBIAN_FRONTEND=noninteractive apt-get install -y postgresql)`;

export interface PgCluster {
  /** postgres://… for the database made at start. */
  url: string;
  port: number;
  dir: string;
  /** Stops the server, keeping the data (a database outage). */
  stopServer(): Promise<void>;
  /** Starts it again on the same port. */
  startServer(): Promise<void>;
  /** Makes another database and returns its URL. */
  createDatabase(name: string): Promise<string>;
  /** Stops the server and removes the data. */
  stop(): Promise<void>;
}

/** The OS user the cluster runs as: initdb and postgres refuse to run as root. */
function osUser(): string | null {
  if (process.getuid?.() !== 0) return null;
  return existsSync('/var/lib/postgresql') ? 'postgres' : 'nobody';
}

async function as(user: string | null, cmd: string, args: string[]): Promise<string> {
  const [file, argv] = user ? ['runuser', ['-u', user, '--', cmd, ...args]] : [cmd, args];
  const { stdout } = await run(file, argv, { timeout: 60_000 });
  return stdout;
}

/** A cluster on a free 127.0.0.1 port with the database `database`; fsync stays on (commit latency is real). */
export async function startPgCluster(database = 'schoolgate'): Promise<PgCluster> {
  const bin = findPostgres();
  if (!bin) throw new Error(PG_SKIP_MESSAGE);
  const user = osUser();
  const dir = mkdtempSync(path.join(tmpdir(), 'schoolgate-pg-'));
  if (user) {
    const { stdout } = await run('id', ['-u', user]);
    const { stdout: gid } = await run('id', ['-g', user]);
    chownSync(dir, Number(stdout.trim()), Number(gid.trim()));
  }
  const data = path.join(dir, 'data');
  const port = await freePort();
  const tool = (name: string) => path.join(bin, name);
  await as(user, tool('initdb'), ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync']);
  const opts = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c max_connections=40 -c shared_buffers=32MB`;
  const startServer = async () => {
    await as(user, tool('pg_ctl'), [
      'start',
      '-w',
      '-t',
      '60',
      '-D',
      data,
      '-l',
      path.join(dir, 'log'),
      '-o',
      opts,
    ]);
    await as(user, tool('pg_isready'), ['-h', '127.0.0.1', '-p', String(port), '-t', '30']);
  };
  const stopServer = async () => {
    await as(user, tool('pg_ctl'), ['stop', '-w', '-t', '60', '-m', 'fast', '-D', data]);
  };
  const createDatabase = async (name: string) => {
    await as(user, tool('createdb'), ['-h', '127.0.0.1', '-p', String(port), '-U', 'postgres', name]);
    return `postgres://postgres@127.0.0.1:${port}/${name}`;
  };
  await startServer();
  const url = await createDatabase(database);
  return {
    url,
    port,
    dir,
    stopServer,
    startServer,
    createDatabase,
    async stop() {
      await stopServer().catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
