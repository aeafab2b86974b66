/**
 * The primary of `serve --workers N`: it owns the audit writer thread (one writer, one chain), the control
 * socket, the console, the nightly timers and the alerts engine, and forks N proxy workers that accept on
 * the proxy port on one shared listening socket. A worker that dies is logged and replaced, unless workers
 * died more than 5 times within 60 s (a crash loop): then the primary gives up and the service fails
 * (SG_WORKER_FAILED). `reload`, `selftest` runs and SIGUSR1 reach every worker; `status` sums them.
 */
import cluster, { type Worker as ClusterWorker } from 'node:cluster';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { CommittedSource } from '../../alerts/engine.js';
import type { AuditEvent } from '../../audit/types.js';
import { SchoolgateError, type ErrorCode } from '../../errors.js';
import { WorkerAuditStore } from '../../audit/index.js';
import { PostgresAuditStore } from '../../audit/postgres/store.js';
import { AuditRelay } from './audit-relay.js';
import { PgWriterLink } from './pg-writer-link.js';
import { ForwardedRuns, forwardSignal, type WorkerAnswer } from './forwarded.js';
import { isFromProxyWorker, type FromProxyWorker, type ToProxyWorker } from './messages.js';
import { RestartLimit, WORKER_RESTART_LIMIT, type RestartLimitOptions } from './restart-limit.js';
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
  /**
   * Called once if the workers crash-loop (more than the restart limit): the primary has stopped replacing
   * them; serve stops the rest and exits 1. Called at once if that already happened.
   */
  onGiveUp(listener: (err: SchoolgateError) => void): void;
}

export function primaryRole(
  count: number,
  logger: Logger,
  /** Tests: the restart limit's clock. */
  limit: RestartLimitOptions = WORKER_RESTART_LIMIT,
): Primary {
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
  /** The first workers all listen: from now on a worker that dies (even before it listens) is replaced. */
  let started = false;
  let restarts = 0;
  const deaths = new RestartLimit(limit);
  let gaveUp: SchoolgateError | null = null;
  const giveUpListeners: ((err: SchoolgateError) => void)[] = [];
  let stopForwarding = () => {};

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

  /**
   * Forks one worker; resolves when it listens, rejects if it exits first. A worker that dies once it
   * listened, or at any time after the start, is replaced (replace()).
   */
  const fork = (): Promise<{ worker: ClusterWorker; address: AddressInfo }> => {
    const worker = cluster.fork();
    workers.set(worker.id, worker);
    relay?.attach(worker);
    worker.on('message', (raw: unknown) => onMessage(worker, raw));
    let listened = false;
    return new Promise((resolve, reject) => {
      const onListening = (raw: unknown) => {
        if (!isFromProxyWorker(raw) || raw.sg !== 'listening') return;
        worker.off('message', onListening);
        listened = true;
        serving.add(worker.id);
        runs.replay((cmd, args) => ask(worker, cmd, args));
        resolve({ worker, address: raw.address });
      };
      worker.on('message', onListening);
      // Registered before the worker can listen: a worker that dies while the others still start is seen.
      // Its last messages (`listening`) are read before its channel closes, not necessarily before `exit`.
      worker.once('exit', (code, signal) => {
        if (worker.isConnected()) worker.process.once('disconnect', () => died(code, signal));
        else died(code, signal);
      });
      const died = (code: number | null, signal: string | null) => {
        workers.delete(worker.id);
        serving.delete(worker.id);
        for (const [id, ask] of pending)
          if (ask.worker === worker.id) {
            pending.delete(id);
            ask.reject(new SchoolgateError('SG_WORKER_FAILED', `proxy worker ${worker.process.pid} exited`));
          }
        if (listened || started) replace(worker, code, signal);
        reject(
          new SchoolgateError(
            'SG_WORKER_FAILED',
            `proxy worker ${worker.process.pid} exited (${signal ?? `code ${code}`}) before it listened`,
            { suggestion: 'see the log lines above for its error' },
          ),
        );
      };
    });
  };

  /** A worker that died is replaced (its clients saw their answers or an error, never a lost row). */
  const replace = (worker: ClusterWorker, code: number | null, signal: string | null) => {
    if (stopping) return;
    const where = { code: 'SG_WORKER_FAILED', pid: worker.process.pid, exitCode: code, signal };
    if (deaths.died()) return giveUp(where);
    restarts++;
    log.error(where, 'proxy worker died; starting another');
    fork().then(
      (next) => log.info({ pid: next.worker.process.pid }, 'proxy worker restarted'),
      // Its exit was counted: replace() starts another, or gives up.
      (err: unknown) => log.error({ err: String(err) }, 'proxy worker could not be restarted'),
    );
  };

  /** Workers crash-loop: stop replacing them, and let serve stop the rest and exit 1. */
  const giveUp = (where: Record<string, unknown>) => {
    stopping = true;
    const seconds = limit.windowMs / 1000;
    gaveUp = new SchoolgateError(
      'SG_WORKER_FAILED',
      `proxy workers died more than ${limit.max} times within ${seconds} s; not restarting them again`,
      { suggestion: 'see the log lines above for why they died; the service stops' },
    );
    log.fatal({ ...where, deaths: deaths.recent, windowSeconds: seconds }, gaveUp.message);
    for (const listener of giveUpListeners.splice(0)) listener(gaveUp);
  };

  const ask = (worker: ClusterWorker, cmd: string, args: Record<string, unknown>): Promise<unknown> => {
    const id = nextAsk++;
    return new Promise((resolve, reject) => {
      pending.set(id, { worker: worker.id, resolve, reject });
      send(worker, { sg: 'control', id, cmd, args });
    });
  };

  /** One command to every worker; each answer (or error) with the worker's pid. */
  const askAll = (cmd: string, args: Record<string, unknown>): Promise<WorkerAnswer[]> =>
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

  const runs = new ForwardedRuns(askAll, log);
  const source: CommittedSource = { on: (_name, subscriber) => void committed.push(subscriber) };

  return {
    role: 'primary',
    committed: source,
    pids: () => [...workers.values()].map((w) => w.process.pid ?? 0),
    onGiveUp(listener) {
      if (gaveUp) listener(gaveUp);
      else giveUpListeners.push(listener);
    },
    async listen(audit) {
      if (audit instanceof PostgresAuditStore) {
        const link = new PgWriterLink(audit);
        relay = new AuditRelay(() => link.ready(), link);
      } else {
        if (!(audit instanceof WorkerAuditStore) || !('thread' in audit.transport))
          throw new Error('the primary needs its own audit writer thread');
        relay = new AuditRelay(
          () => ({ type: 'ready', opened: audit.opened, signing: audit.signing }),
          audit.transport.thread as never,
        );
      }
      const settled = await Promise.allSettled(Array.from({ length: count }, () => fork()));
      const failed = settled.find((s) => s.status === 'rejected');
      if (failed) {
        stopping = true;
        for (const w of workers.values()) w.kill('SIGKILL');
        throw failed.reason;
      }
      const ok = settled.filter((s) => s.status === 'fulfilled').map((s) => s.value);
      started = true;
      stopForwarding = forwardSignal('SIGUSR1', askAll, log);
      log.info({ workers: ok.map((s) => s.worker.process.pid) }, 'proxy workers listening');
      return ok[0]!.address;
    },
    control(own: ControlHandlers): ControlHandlers {
      return {
        ...own,
        ...runs.handlers(own),
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
      stopForwarding();
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
