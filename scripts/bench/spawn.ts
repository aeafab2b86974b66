/**
 * Starting the bench's processes pinned to a core, waiting until they listen, and stopping each one's
 * whole process group (Squid's helpers, e2guardian's children) when the bench ends or moves on.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import net, { type AddressInfo } from 'node:net';
import os from 'node:os';

const started: ChildProcess[] = [];

/** On the first start: stop everything at exit, and exit through that on an interrupt. */
function stopAllAtExit(): void {
  process.on('exit', () => {
    for (const c of started) stopGroup(c);
  });
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => process.exit(130));
}

/** Is `cmd` on PATH? */
export function installed(cmd: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** The contender gets core 0, the load generator and origins core 1; no pinning on one core. */
export function pinTo(core: 0 | 1): string[] {
  return os.cpus().length >= 2 && installed('taskset') ? ['taskset', '-c', String(core)] : [];
}

export interface Started {
  child: ChildProcess;
  pid: number;
  /** Everything it printed so far (the last 20 kB). */
  output(): string;
}

/** Starts `[...pin, cmd, ...args]` in its own process group (taskset execs, so the pid is the command's). */
export function startProcess(
  pin: string[],
  cmd: string,
  args: string[],
  opts: { cwd?: string } = {},
): Started {
  const [file, ...rest] = [...pin, cmd, ...args];
  if (started.length === 0) stopAllAtExit();
  const child = spawn(file!, rest, { stdio: ['ignore', 'pipe', 'pipe'], detached: true, ...opts });
  started.push(child);
  let out = '';
  const onData = (c: Buffer) => {
    out = (out + c.toString()).slice(-20_000);
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  return { child, pid: child.pid!, output: () => out };
}

/** Resolves with the first match of `ready` in the output; rejects if the process exits first. */
export function waitForOutput(p: Started, ready: RegExp, what: string): Promise<RegExpExecArray> {
  return new Promise((resolve, reject) => {
    const check = () => {
      const m = ready.exec(p.output());
      if (m) {
        p.child.stdout!.off('data', check);
        p.child.stderr!.off('data', check);
        resolve(m);
      }
    };
    p.child.stdout!.on('data', check);
    p.child.stderr!.on('data', check);
    p.child.once('exit', (code, signal) =>
      reject(new Error(`${what} exited ${code ?? signal}: ${p.output().slice(-2000)}`)),
    );
    check();
  });
}

/** Waits until something accepts connections on the loopback port (bounded: 600 tries, 50 ms apart). */
export async function waitForPort(port: number, p: Started, what: string): Promise<void> {
  for (let i = 0; i < 600; i++) {
    if (p.child.exitCode !== null || p.child.signalCode !== null)
      throw new Error(`${what} exited ${p.child.exitCode ?? p.child.signalCode}: ${p.output().slice(-2000)}`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect({ host: '127.0.0.1', port });
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${what} did not listen on ${port}: ${p.output().slice(-2000)}`);
}

/** A port free now on 127.0.0.1 (for programs that take a port in their config). */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  await new Promise((r) => server.close(r));
  return port;
}

function stopGroup(c: ChildProcess): void {
  if (c.exitCode !== null || c.signalCode !== null) return;
  try {
    process.kill(-c.pid!, 'SIGKILL');
  } catch {
    // already gone
  }
}

/** Stops the process and everything in its group, and waits for it to exit. */
export async function stop(p: Started, gently = false): Promise<void> {
  if (p.child.exitCode !== null || p.child.signalCode !== null) return;
  const exited = new Promise((r) => p.child.once('exit', r));
  if (gently) {
    // SIGTERM first, so that a --cpu-prof process writes its profile; the group goes anyway after 30 s.
    p.child.kill('SIGTERM');
    const timer = setTimeout(() => stopGroup(p.child), 30_000);
    await exited;
    clearTimeout(timer);
  }
  stopGroup(p.child);
  await exited;
}
