/**
 * lists.updateAt: the running proxy runs `schoolgate lists update` itself once a day at that wall-clock
 * time (school time zone). Off unless the school sets it: nothing is downloaded otherwise.
 *
 * Each run is the CLI command in a child process (`--by scheduled`): the same download, checks, record and
 * reload through the control socket as a technician's run, and the memory an import of millions of
 * entries takes is given back when the child exits, never held by the proxy. A failed run is logged with
 * its SG code; the provider layer in force stays (the command fails closed). Time comes from a
 * SchedulerClock (tests move a test clock), never more than an hour's wait at a time, like the nightly purge.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import { realClock, type SchedulerClock } from '../../alerts/digest/clock.js';
import type { ReadonlyConfig } from '../../config/load.js';
import { locationOf } from '../../config/location.js';
import { DailyTimer } from '../../alerts/digest/daily-timer.js';
import { workerScript } from '../../worker-script.js';

export const SCHEDULED_BY = 'scheduled';
/** The tail of the child's output kept for the log. */
const OUTPUT_KEPT = 4000;

export interface UpdateRun {
  code: number | null;
  output: string;
}

export interface ScheduledUpdateDeps {
  /** HH:MM, school time zone. */
  at: string;
  timeZone: string;
  clock: SchedulerClock;
  logger: Logger;
  /** One update; resolves when it ends (never rejects). */
  run: (started: (child: ChildProcess) => void) => Promise<UpdateRun>;
}

export interface CliTarget {
  /** The config file the proxy was started with (null: the embedded defaults). */
  configFile: string | null;
  dataDir: string;
  categoriesDir: string;
  /** The built CLI; default dist/src/cli/main.js of this installation. */
  cli?: string;
}

/** Runs `schoolgate lists update` for the proxy's own config and folders in a child process. */
export function cliUpdateRunner(target: CliTarget): ScheduledUpdateDeps['run'] {
  const cli = target.cli ?? workerScript(import.meta.url, '../../cli/main.js').path;
  const args = [
    cli,
    'lists',
    'update',
    ...(target.configFile ? ['--config', target.configFile] : []),
    '--data',
    target.dataDir,
    '--categories',
    target.categoriesDir,
    '--by',
    SCHEDULED_BY,
    '--reason',
    'scheduled update (lists.updateAt)',
  ];
  return (started) =>
    new Promise((resolve) => {
      const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
      started(child);
      let output = '';
      const keep = (c: Buffer) => (output = (output + c.toString()).slice(-OUTPUT_KEPT));
      child.stdout.on('data', keep);
      child.stderr.on('data', keep);
      child.on('error', (err) => resolve({ code: null, output: `${output}${err.message}` }));
      child.on('close', (code) => resolve({ code, output }));
    });
}

interface ScheduleEvents {
  ran: [UpdateRun];
}

export class ScheduledListUpdate extends EventEmitter<ScheduleEvents> {
  private readonly timer: DailyTimer;
  private child: ChildProcess | null = null;
  private stopped = false;
  runs = 0;

  constructor(private readonly deps: ScheduledUpdateDeps) {
    super();
    this.timer = new DailyTimer({ ...deps, run: () => this.runOnce() });
  }

  /** The next run, epoch ms. */
  get nextAt(): number | null {
    return this.timer.nextAt;
  }

  start(): void {
    this.timer.start();
  }

  /** Cancels the next run and ends one in progress (the command switches nothing until it has finished). */
  stop(): void {
    this.stopped = true;
    this.timer.stop();
    if (this.child?.exitCode === null) this.child.kill('SIGTERM');
  }

  private async runOnce(): Promise<() => void> {
    this.runs++;
    const run = await this.deps.run((child) => (this.child = child));
    this.child = null;
    if (this.stopped) return () => {};
    if (run.code === 0) this.deps.logger.info({ output: run.output }, 'scheduled lists update done');
    else
      this.deps.logger.error(
        { code: run.code, output: run.output },
        'scheduled lists update failed; the provider lists in force stay',
      );
    return () => this.emit('ran', run);
  }
}

/** lists.updateAt: the daily update, started with the proxy; null when the school has not turned it on. */
export function startScheduledUpdates(
  config: ReadonlyConfig,
  logger: Logger,
  opts: { clock?: SchedulerClock; cli?: string } = {},
): ScheduledListUpdate | null {
  if (config.lists.updateAt === null) return null;
  const schedule = new ScheduledListUpdate({
    at: config.lists.updateAt,
    timeZone: config.timeZone,
    clock: opts.clock ?? realClock,
    logger: logger.child({ component: 'lists-update' }),
    run: cliUpdateRunner({
      configFile: locationOf(config).file,
      dataDir: config.dataDir,
      categoriesDir: config.categoriesDir,
      ...(opts.cli ? { cli: opts.cli } : {}),
    }),
  });
  schedule.start();
  return schedule;
}
