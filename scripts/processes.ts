/**
 * What the benchmark scripts share: child processes (the origin, proxies) started from the built files and
 * stopped when the script exits, and a process's CPU time read from /proc (Linux).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';

const children: ChildProcess[] = [];
process.on('exit', stopAll);

/** Stops every process start() started, newest first. */
export function stopAll(): void {
  for (const c of children.splice(0).reverse()) c.kill('SIGTERM');
}

/** Starts `node <command>` and resolves once its output matches `ready` (group 1: the port it listens on). */
export function start(command: string[], ready: RegExp): Promise<{ child: ChildProcess; port: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, command, { stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(child);
    let out = '';
    const onData = (c: Buffer) => {
      out += c.toString();
      const m = ready.exec(out);
      if (m) resolve({ child, port: Number(m[1]) });
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.on('exit', (code) => reject(new Error(`${command.join(' ')} exited ${code}: ${out}`)));
  });
}

const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());

/** utime + stime (fields 14 and 15 of /proc/<pid>/stat) of a process, in ms. */
export function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // fields[0] is field 3 (state)
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLK_TCK;
}
