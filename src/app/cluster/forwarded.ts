/**
 * What the primary of `serve --workers N` passes on to every proxy worker so that the cluster behaves as
 * one process: SIGUSR1 (the access log reopened after logrotate renamed it) and the `schoolgate selftest`
 * runs (begun here, adopted by each worker, so a probe's row is marked whichever worker serves it).
 */
import type { Logger } from 'pino';
import { MAX_OPEN_RUNS } from '../../exchange/selftest-probes.js';
import type { ControlHandlers } from './role.js';

/** One worker's answer to a command from the primary. */
export type WorkerAnswer =
  { pid: number; ok: true; result: unknown } | { pid: number; ok: false; error: string };

export type AskAll = (cmd: string, args: Record<string, unknown>) => Promise<WorkerAnswer[]>;

/** The signals a worker takes from its primary (worker.ts refuses any other). */
export const FORWARDED_SIGNALS = ['SIGUSR1'] as const;
export type ForwardedSignal = (typeof FORWARDED_SIGNALS)[number];

function logFailures(log: Logger, what: string, answers: WorkerAnswer[]): void {
  for (const a of answers)
    if (!a.ok)
      log.error({ code: 'SG_WORKER_FAILED', pid: a.pid, err: a.error }, `proxy worker: ${what} failed`);
}

/** Passes `signal` on to every worker as it reaches the primary; returns the function that stops it. */
export function forwardSignal(signal: ForwardedSignal, askAll: AskAll, log: Logger): () => void {
  const forward = () => {
    void askAll('signal', { signal }).then((answers) => {
      logFailures(log, signal, answers);
      const passed = answers.filter((a) => a.ok).map((a) => a.pid);
      log.info({ signal, workers: passed }, `${signal} passed on to ${passed.length} proxy workers`);
    });
  };
  process.on(signal, forward);
  return () => void process.off(signal, forward);
}

/** The selftest runs open now: begun in the primary, adopted by every worker, replayed to a new one. */
export class ForwardedRuns {
  /** Token → run, oldest first (bounded as the probes are). */
  private readonly open = new Map<string, string>();

  constructor(
    private readonly askAll: AskAll,
    private readonly log: Logger,
  ) {}

  /** The primary's own selftest-begin/-end, reaching every worker. */
  handlers(own: ControlHandlers): ControlHandlers {
    return {
      'selftest-begin': async (args) => {
        const opened = (await own['selftest-begin']!(args)) as { run: string; token: string };
        this.open.set(opened.token, opened.run);
        while (this.open.size > MAX_OPEN_RUNS) this.open.delete(this.open.keys().next().value!);
        logFailures(this.log, 'selftest-adopt', await this.askAll('selftest-adopt', opened));
        return opened;
      },
      'selftest-end': async (args) => {
        const ended = await own['selftest-end']!(args);
        this.open.delete(String(args.token ?? ''));
        logFailures(this.log, 'selftest-end', await this.askAll('selftest-end', args));
        return ended;
      },
    };
  }

  /** A worker that starts while runs are open (a replacement) adopts them too. */
  replay(ask: (cmd: string, args: Record<string, unknown>) => Promise<unknown>): void {
    for (const [token, run] of this.open)
      ask('selftest-adopt', { run, token }).catch((err: unknown) =>
        this.log.error({ code: 'SG_WORKER_FAILED', err: String(err) }, 'proxy worker: selftest-adopt failed'),
      );
  }
}
