/**
 * The primary of `serve --workers N`: it owns the audit writer thread (one writer, one chain), the control
 * socket, the console, the nightly timers and the alerts engine, and forks N proxy workers that accept on
 * the proxy port on one shared listening socket. A worker that dies is logged and replaced;
 * `reload` reaches every worker; `status` sums them.
 */
import cluster, { type Worker as ClusterWorker } from 'node:cluster';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { CommittedSource } from '../../alerts/engine.js';
import type { AuditEvent } from '../../audit/types.js';
import { SchoolgateError, type ErrorCode } from '../../errors.js';
import { AuditRelay } from './audit-relay.js';
import { isFromProxyWorker, type FromProxyWorker, type ToProxyWorker } from './messages.js';
import type { ControlHandlers, PrimaryRole } from './role.js';
import { sumWorkerStatus, type WorkerReport } from './status-sum.js';

interface Pending {
  worker: number;
  resolve: (result: unknown) => void;
  reject: (err: Error) => void;
}

export interface Primary extends PrimaryRole {
  /** The pids of the workers running now (status, tests). */
  pids(): number[];
}

export function primaryRole(count: number, logger: Logger): Primary {
  // Every worker accepts on the one shared listening socket (the kernel spreads connections), instead of
  // the primary accepting and handing each over: no per-connection IPC, and a worker that dies loses only
  // the connections it had accepted (with round-robin, one being handed to it hung in the primary).
  cluster.schedulingPolicy = cluster.SCHED_NONE;
  cluster.setupPrimary({ serialization: 'advanced' });
  const log = logger.child({ component: 'cluster' });
  const workers = new Map<number, ClusterWorker>();
  /** Workers that listen (and answer commands); one still starting is not asked, or `status` would wait on it. */
  const serving = new Set<number>();
  const pending = new Map<number, Pending>();
  const committed: ((event: { row: AuditEvent }) => void)[] = [];
  let relay: AuditRelay | null = null;
  let nextAsk = 1;
  let stopping = false;
  let restarts = 0;

  const send = (worker: ClusterWorker, message: ToProxyWorker) => {
    if (worker.isConnected()) worker.send(message);
  };

  const onMessage = (worker: ClusterWorker, raw: unknown) => {
    if (!isFromProxyWorker(raw)) return;
    if (relay?.handle(worker, raw)) return;
    const message: FromProxyWorker = raw;
    if (message.sg === 'committed') {
      for (const row of message.rows) for (const listener of committed) listener({ row });
    } else if (message.sg === 'control-reply') {
      const ask = pending.get(message.id);
      pending.delete(message.id);
      if (message.ok) ask?.resolve(message.result);
      else
        ask?.reject(
          new SchoolgateError(
            (message.error.code as ErrorCode | null) ?? 'SG_WORKER_FAILED',
            message.error.message,
          ),
        );
    }
  };

  /** Forks one worker; resolves when it listens, rejects if it exits first. */
  const fork = (): Promise<{ worker: ClusterWorker; address: AddressInfo }> => {
    const worker = cluster.fork();
    workers.set(worker.id, worker);
    relay?.attach(worker);
    worker.on('message', (raw: unknown) => onMessage(worker, raw));
    return new Promise((resolve, reject) => {
      const onListening = (raw: unknown) => {
        if (!isFromProxyWorker(raw) || raw.sg !== 'listening') return;
        worker.off('message', onListening);
        serving.add(worker.id);
        resolve({ worker, address: raw.address });
      };
      worker.on('message', onListening);
      worker.once('exit', (code, signal) => {
        workers.delete(worker.id);
        serving.delete(worker.id);
        for (const [id, ask] of pending)
          if (ask.worker === worker.id) {
            pending.delete(id);
            ask.reject(new SchoolgateError('SG_WORKER_FAILED', `proxy worker ${worker.process.pid} exited`));
          }
        reject(
          new SchoolgateError(
            'SG_WORKER_FAILED',
            `proxy worker ${worker.process.pid} exited (${signal ?? `code ${code}`}) before it listened`,
            { suggestion: 'see the log lines above for its error' },
          ),
        );
      });
    });
  };

  /** A running worker that dies is replaced (its clients saw their answers or an error, never a lost row). */
  const watch = (worker: ClusterWorker) => {
    worker.once('exit', (code, signal) => {
      if (stopping) return;
      restarts++;
      log.error(
        { code: 'SG_WORKER_FAILED', pid: worker.process.pid, exitCode: code, signal },
        'proxy worker died; starting another',
      );
      fork().then(
        (started) => {
          watch(started.worker);
          log.info({ pid: started.worker.process.pid }, 'proxy worker restarted');
        },
        (err: unknown) => log.error({ err }, 'proxy worker could not be restarted'),
      );
    });
  };

  const ask = (worker: ClusterWorker, cmd: string, args: Record<string, unknown>): Promise<unknown> => {
    const id = nextAsk++;
    return new Promise((resolve, reject) => {
      pending.set(id, { worker: worker.id, resolve, reject });
      send(worker, { sg: 'control', id, cmd, args });
    });
  };

  /** One command to every worker; each answer (or error) with the worker's pid. */
  const askAll = (cmd: string, args: Record<string, unknown>) =>
    Promise.all(
      [...workers.values()]
        .filter((w) => serving.has(w.id))
        .map(async (w) => {
          const pid = w.process.pid ?? 0;
          try {
            return { pid, ok: true as const, result: await ask(w, cmd, args) };
          } catch (err) {
            return { pid, ok: false as const, error: (err as Error).message };
          }
        }),
    );

  const source: CommittedSource = { on: (_name, subscriber) => void committed.push(subscriber) };

  return {
    role: 'primary',
    committed: source,
    pids: () => [...workers.values()].map((w) => w.process.pid ?? 0),
    async listen(audit) {
      if (!('thread' in audit.transport)) throw new Error('the primary needs its own audit writer thread');
      relay = new AuditRelay(audit, audit.transport.thread as never);
      const started = await Promise.allSettled(Array.from({ length: count }, () => fork()));
      const failed = started.find((s) => s.status === 'rejected');
      if (failed) {
        stopping = true;
        for (const w of workers.values()) w.kill('SIGKILL');
        throw failed.reason;
      }
      const ok = started.filter((s) => s.status === 'fulfilled').map((s) => s.value);
      for (const s of ok) watch(s.worker);
      log.info({ workers: ok.map((s) => s.worker.process.pid) }, 'proxy workers listening');
      return ok[0]!.address;
    },
    control(own: ControlHandlers): ControlHandlers {
      return {
        ...own,
        status: async (args) =>
          sumWorkerStatus(
            (await own.status!(args)) as Record<string, unknown>,
            (await askAll('status', args)) as WorkerReport[],
            restarts,
          ),
        // Checked and applied here first (the console and `decide` read this snapshot); then every worker
        // loads the same files (forced: the shrink check passed here).
        reload: async (args) => {
          const result = (await own.reload!(args)) as Record<string, unknown>;
          const answers = await askAll('reload', { ...args, force: true });
          for (const a of answers)
            if (!a.ok)
              log.error(
                { code: 'SG_WORKER_FAILED', pid: a.pid, err: a.error },
                'proxy worker did not reload',
              );
          return {
            ...result,
            workers: answers.map((a) => ({ pid: a.pid, ok: a.ok, ...(a.ok ? {} : { error: a.error }) })),
          };
        },
        'users-changed': async (args) => {
          const answers = await askAll('users-changed', args);
          const revoked = answers.reduce(
            (n, a) => n + (a.ok ? ((a.result as { revoked?: number }).revoked ?? 0) : 0),
            0,
          );
          return { revoked };
        },
      };
    },
    async stopWorkers(now) {
      stopping = true;
      await Promise.all(
        [...workers.values()].map(
          (w) =>
            new Promise<void>((resolve) => {
              if (w.isDead()) return resolve();
              w.once('exit', () => resolve());
              send(w, { sg: 'stop', now });
            }),
        ),
      );
    },
  };
}
