/** Runs the compiled `schoolgate` CLI (dist/, built by `npm test` before vitest) as a child process. */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export const CLI = path.resolve('dist/src/cli/main.js');

export function assertBuilt(): void {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run "npm run build" (npm test does it first)`);
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function runCli(
  args: string[],
  opts: { input?: string; cwd?: string; timeoutMs?: number; env?: NodeJS.ProcessEnv } = {},
): Promise<CliResult> {
  assertBuilt();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      cwd: opts.cwd,
      stdio: ['pipe', 'pipe', 'pipe'],
      ...(opts.env ? { env: opts.env } : {}),
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(opts.input ?? '');
  });
}

/** Starts `schoolgate serve` and resolves once it prints where it listens. */
export function startServeProcess(
  args: string[],
  env?: NodeJS.ProcessEnv,
  /** A bound, not a timing: a start with several worker processes on a busy machine takes longer. */
  timeoutMs = 60_000,
): Promise<{ child: ChildProcess; port: number; output: () => string }> {
  assertBuilt();
  return new Promise((resolve, reject) => {
    // One process unless the test asks for workers (the config default is one per core).
    const workers = args.includes('--workers') ? [] : ['--workers', '1'];
    const child = spawn(process.execPath, [CLI, 'serve', ...workers, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      ...(env ? { env } : {}),
    });
    let output = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`serve did not start: ${output}`));
    }, timeoutMs);
    const onData = (c: Buffer) => {
      output += c.toString();
      const m = /filtering on [^\s]+:(\d+)/.exec(output);
      if (m) {
        clearTimeout(timer);
        resolve({ child, port: Number(m[1]), output: () => output });
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`serve exited with ${code}: ${output}`));
    });
  });
}

export function waitForExit(child: ChildProcess, timeoutMs = 15_000): Promise<number | null> {
  return new Promise((resolve, reject) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve(child.exitCode);
    const timer = setTimeout(() => reject(new Error('process did not exit')), timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve(code);
    });
  });
}

/** Resolves once a running child's output (stdout and stderr so far, and from now on) matches `pattern`. */
export function waitForOutput(
  serve: { child: ChildProcess; output: () => string },
  pattern: RegExp,
  timeoutMs = 15_000,
): Promise<string> {
  return new Promise((resolve, reject) => {
    const check = (): boolean => {
      if (!pattern.test(serve.output())) return false;
      cleanup();
      resolve(serve.output());
      return true;
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`output never matched ${String(pattern)}:\n${serve.output()}`));
    }, timeoutMs);
    // Registered after startServeProcess's own listener, so output() already holds the new chunk.
    const onData = () => void check();
    const cleanup = () => {
      clearTimeout(timer);
      serve.child.stdout?.off('data', onData);
      serve.child.stderr?.off('data', onData);
    };
    serve.child.stdout?.on('data', onData);
    serve.child.stderr?.on('data', onData);
    check();
  });
}

/** A temp folder with the fixture categories and `config` as its config file, and the CLI options naming them. */
export function cliFolder(
  config: object,
  make: { tempDir: () => string; categories: (dir: string) => string },
) {
  const dir = make.tempDir();
  const categories = make.categories(path.join(dir, 'categories'));
  writeFileSync(path.join(dir, 'config.yaml'), JSON.stringify(config));
  const args = ['--config', path.join(dir, 'config.yaml'), '--data', path.join(dir, 'data')];
  return { dir, args: [...args, '--categories', categories] };
}
