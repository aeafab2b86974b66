/**
 * A proxy worker of `serve --workers N`: the proxy only (lists, identity, TLS, its own access-log lines);
 * its audit rows go to the primary's writer (ipc-transport.ts), control commands come from the primary,
 * committed rows go to the primary's alerts engine. Without its primary it exits: a proxy with no audit
 * writer must not answer (fail closed).
 */
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { AuditEvent } from '../../audit/types.js';
import type { ReadonlyConfig } from '../../config/load.js';
import { isSchoolgateError, renderError } from '../../errors.js';
import { startSchoolgate, type RunningSchoolgate } from '../start.js';
import { FORWARDED_SIGNALS, type ForwardedSignal } from './forwarded.js';
import { connectToPrimaryWriter } from './ipc-transport.js';
import { isToProxyWorker, type FromProxyWorker } from './messages.js';
import type { ProxyServer } from '../../proxy/server.js';
import type { ControlHandlers, WorkerRole } from './role.js';

type StartOptions = NonNullable<Parameters<typeof startSchoolgate>[2]>;

function send(message: FromProxyWorker): void {
  if (process.connected) process.send!(message);
}

/** What this worker adds to its own `status` for the primary's sum. */
function workerStatus(status: unknown, running: { healthy: boolean }): unknown {
  const memory = process.memoryUsage();
  return {
    ...(status as object),
    rssBytes: memory.rss,
    heapUsedBytes: memory.heapUsed,
    auditHealthy: running.healthy,
  };
}

function workerRole(): WorkerRole {
  return {
    role: 'worker',
    audit: (logger) => connectToPrimaryWriter(logger),
    serving(proxy, handlers, address, audit) {
      answerControl({ ...handlers, ...fromPrimary(proxy) }, audit);
      forwardCommitted(proxy.events);
      if (process.env.SCHOOLGATE_TEST_WORKER_CRASH === '1') return crashOnceListening(address);
      send({ sg: 'listening', address });
    },
  };
}

/** The commands only a primary sends: what reached it that must reach every worker too (forwarded.ts). */
function fromPrimary(proxy: Pick<ProxyServer, 'probes'>): ControlHandlers {
  return {
    // The signal's own handlers (the access log's reopen) run here as if it had reached this process.
    signal: (args) => {
      const signal = String(args.signal) as ForwardedSignal;
      if (!FORWARDED_SIGNALS.includes(signal)) throw new Error(`signal ${signal} is not passed on`);
      return { handled: process.emit(signal, signal) };
    },
    'selftest-adopt': (args) => {
      proxy.probes.adopt({ run: String(args.run), token: String(args.token) });
      return { adopted: true };
    },
  };
}

/**
 * Tests only (SCHOOLGATE_TEST_WORKER_CRASH=1): the worker exits as soon as its primary knows it listens,
 * a crash loop for the primary's restart limit. Never set in a service.
 */
function crashOnceListening(address: AddressInfo): void {
  process.send!({ sg: 'listening', address } satisfies FromProxyWorker, undefined, undefined, () =>
    process.exit(1),
  );
}

function answerControl(handlers: ControlHandlers, audit: { healthy: boolean }): void {
  process.on('message', (raw: unknown) => {
    if (!isToProxyWorker(raw) || raw.sg !== 'control') return;
    const { id, cmd, args } = raw;
    const handler = handlers[cmd];
    Promise.resolve()
      .then(() => {
        if (!handler) throw new Error(`unknown control command ${cmd}`);
        return handler(args);
      })
      .then(
        (result) =>
          send({
            sg: 'control-reply',
            id,
            ok: true,
            result: cmd === 'status' ? workerStatus(result, audit) : result,
          }),
        (err: unknown) =>
          send({
            sg: 'control-reply',
            id,
            ok: false,
            error: {
              code: isSchoolgateError(err) ? err.code : null,
              message: err instanceof Error ? err.message : String(err),
            },
          }),
      );
  });
}

/** The rows this worker committed, one message per event-loop turn, for the primary's alerts engine. */
function forwardCommitted(events: {
  on(name: 'committed', subscriber: (event: Readonly<{ row: AuditEvent }>) => void): void;
}): void {
  let rows: AuditEvent[] = [];
  events.on('committed', ({ row }) => {
    if (rows.push(row) === 1)
      setImmediate(() => {
        send({ sg: 'committed', rows });
        rows = [];
      });
  });
}

/** Runs this process as a proxy worker until its primary says stop (or goes away). */
export async function runProxyWorker(
  config: ReadonlyConfig,
  logger: Logger,
  opts: StartOptions,
): Promise<void> {
  // Ctrl+C and systemd's SIGTERM reach the whole group: the primary decides when a worker stops (after
  // the rows in flight are committed), so the worker waits for its word.
  process.on('SIGINT', () => undefined);
  process.on('SIGTERM', () => undefined);
  let running: RunningSchoolgate | null = null;
  let stopping: Promise<void> | null = null;
  const stop = (now: boolean, code: number) => {
    stopping ??= (running ? (now ? running.stopNow() : running.stop()) : Promise.resolve())
      .catch((err: unknown) => logger.error({ err }, 'proxy worker: error while stopping'))
      .finally(() => process.exit(code));
  };
  process.once('disconnect', () => {
    logger.error(
      { pid: process.pid },
      'proxy worker: the primary is gone; stopping (no audit writer: fail closed)',
    );
    // Nothing may be answered without the writer: cut what is open now.
    stop(true, 1);
  });
  process.on('message', (raw: unknown) => {
    if (isToProxyWorker(raw) && raw.sg === 'stop') stop(raw.now, 0);
  });
  try {
    running = await startSchoolgate(config, logger, { ...opts, cluster: workerRole() });
  } catch (err) {
    // The IPC channel would keep this process alive: say why here, and exit (the primary reports it).
    process.stderr.write(`${renderError(err)}\n`);
    process.exit(1);
  }
  if (!process.connected) stop(true, 1);
}
