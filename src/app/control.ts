/**
 * The control socket: a Unix socket in the data directory (`control.sock`, mode 0600: only the user the
 * proxy runs as, and root, can talk to it), never a network port. The CLI sends one JSON line
 * `{"cmd": "status"}` and reads one JSON line back: `{"ok": true, "result": ...}` or
 * `{"ok": false, "error": {code, message, suggestion, context}}`.
 */
import { chmodSync } from 'node:fs';
import { stat, unlink } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import type { Logger } from 'pino';
import { SchoolgateError, isSchoolgateError, type ErrorCode } from '../errors.js';

export const CONTROL_SOCKET = 'control.sock';

export function controlSocketPath(dataDir: string): string {
  return path.join(dataDir, CONTROL_SOCKET);
}

export type ControlHandler = (args: Record<string, unknown>) => unknown;

export interface ControlServer {
  path: string;
  close(): Promise<void>;
}

const MAX_REQUEST = 64 * 1024;

export async function startControlServer(
  socketPath: string,
  handlers: Record<string, ControlHandler>,
  logger: Logger,
): Promise<ControlServer> {
  await removeStaleSocket(socketPath);
  const server = net.createServer((socket) => {
    let buffer = '';
    socket.setEncoding('utf8');
    socket.on('error', () => undefined);
    socket.on('data', (chunk: string) => {
      buffer += chunk;
      if (buffer.length > MAX_REQUEST) return socket.destroy();
      const nl = buffer.indexOf('\n');
      if (nl === -1) return;
      const line = buffer.slice(0, nl);
      socket.removeAllListeners('data');
      void answer(line).then((reply) => socket.end(`${JSON.stringify(reply)}\n`));
    });
  });
  const answer = async (line: string): Promise<unknown> => {
    try {
      const req = JSON.parse(line) as { cmd?: unknown; args?: Record<string, unknown> };
      const handler = typeof req.cmd === 'string' ? handlers[req.cmd] : undefined;
      if (!handler)
        throw new SchoolgateError(
          'SG_ARGUMENT_INVALID',
          `unknown control command ${JSON.stringify(req.cmd)}`,
        );
      return { ok: true, result: await handler(req.args ?? {}) };
    } catch (err) {
      if (!isSchoolgateError(err)) logger.error({ err }, 'control command failed');
      return {
        ok: false,
        error: isSchoolgateError(err)
          ? err.toJSON()
          : { code: null, message: String((err as Error).message ?? err) },
      };
    }
  };
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    // Created owner-only from the start: no window in which another local user could connect.
    const oldMask = process.umask(0o177);
    try {
      server.listen(socketPath, () => {
        server.off('error', reject);
        resolve();
      });
    } finally {
      process.umask(oldMask);
    }
  });
  chmodSync(socketPath, 0o600);
  server.unref();
  return {
    path: socketPath,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
      }),
  };
}

/** A socket file nobody answers on (a proxy that was killed) is removed; a live one is an error. */
async function removeStaleSocket(socketPath: string): Promise<void> {
  if (
    !(await stat(socketPath).then(
      () => true,
      () => false,
    ))
  )
    return;
  const alive = await new Promise<boolean>((resolve) => {
    const s = net.connect(socketPath);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
  if (alive)
    throw new SchoolgateError(
      'SG_LISTEN_FAILED',
      `another schoolgate is running with this data directory (${socketPath})`,
      {
        context: { socket: socketPath },
        suggestion: 'stop it first, or give this one another --data directory',
      },
    );
  await unlink(socketPath).catch(() => undefined);
}

/** Sends one command to the running proxy of `dataDir`. SG_NOT_RUNNING when none answers. */
export function controlRequest<T = unknown>(
  dataDir: string,
  cmd: string,
  args: Record<string, unknown> = {},
  timeoutMs = 60_000,
): Promise<T> {
  const socketPath = controlSocketPath(dataDir);
  return new Promise<T>((resolve, reject) => {
    const socket = net.connect(socketPath);
    let data = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(
        new SchoolgateError(
          'SG_NOT_RUNNING',
          `the proxy did not answer "${cmd}" within ${timeoutMs / 1000} s`,
        ),
      );
    }, timeoutMs);
    socket.setEncoding('utf8');
    socket.on('connect', () => socket.write(`${JSON.stringify({ cmd, args })}\n`));
    socket.on('data', (c: string) => (data += c));
    socket.on('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(
        new SchoolgateError(
          'SG_NOT_RUNNING',
          `no running proxy answers on ${socketPath} (${err.code ?? err.message})`,
          {
            context: { socket: socketPath },
            suggestion: 'start it with `schoolgate serve` using the same --data directory',
          },
        ),
      );
    });
    socket.on('end', () => {
      clearTimeout(timer);
      try {
        const reply = JSON.parse(data) as
          | { ok: true; result: T }
          | {
              ok: false;
              error: {
                code: ErrorCode | null;
                message: string;
                suggestion?: string;
                context?: Record<string, unknown>;
              };
            };
        if (reply.ok) return resolve(reply.result);
        const e = reply.error;
        reject(
          e.code
            ? new SchoolgateError(e.code, e.message, {
                ...(e.context ? { context: e.context } : {}),
                ...(e.suggestion ? { suggestion: e.suggestion } : {}),
              })
            : new Error(e.message),
        );
      } catch (err) {
        reject(err instanceof Error ? err : new Error(String(err)));
      }
    });
  });
}

/** Reload a running proxy if there is one: what list and user edits call. Never throws for "not running". */
export async function reloadIfRunning(
  dataDir: string,
): Promise<{ running: false } | { running: true; result?: unknown; error?: SchoolgateError }> {
  try {
    return { running: true, result: await controlRequest(dataDir, 'reload') };
  } catch (err) {
    if (isSchoolgateError(err) && err.code === 'SG_NOT_RUNNING') return { running: false };
    if (isSchoolgateError(err)) return { running: true, error: err };
    throw err;
  }
}
