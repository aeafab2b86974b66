/** The console as `serve` starts it: off when console.enabled is false; a console that cannot start is logged, never a reason to stop filtering. */
import type { Logger } from 'pino';
import type { ReadonlyConfig } from '../config/load.js';
import type { Decision, ListMatch, Target } from '../policy/types.js';
import { parseAbsoluteTarget } from '../policy/target.js';
import { startConsole, type RunningConsole } from './server.js';

export type { RunningConsole } from './server.js';

export async function startConsoleIfEnabled(opts: {
  config: ReadonlyConfig;
  certsDir: string;
  logger: Logger;
  reload: () => Promise<unknown>;
  match: (target: Target) => readonly ListMatch[];
  /** decide() over the running snapshot for this profile (null: no such profile): the technician's explain. */
  decide: (target: Target, profile: string) => Decision | null;
}): Promise<RunningConsole | null> {
  if (!opts.config.console.enabled) return null;
  try {
    const running = await startConsole({
      config: opts.config,
      certsDir: opts.certsDir,
      logger: opts.logger,
      reload: opts.reload,
      match: (url) =>
        opts.match(parseAbsoluteTarget(url)).map((m) => ({ category: m.list, entry: m.entry, kind: m.kind })),
      decide: (url, profile) => opts.decide(parseAbsoluteTarget(url), profile),
    });
    opts.logger.info({ url: running.url }, 'web console listening');
    return running;
  } catch (err) {
    opts.logger.error({ err: String(err) }, 'web console could not start: the proxy filters without it');
    return null;
  }
}
