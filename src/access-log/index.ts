/** The access log as the running proxy uses it: opened at start when configured, reopened on SIGUSR1. */
import type { Logger } from 'pino';
import type { ReadonlyConfig } from '../config/load.js';
import { AccessLog } from './access-log.js';

export { AccessLog } from './access-log.js';
export { formatLine, squidLine, jsonLine } from './line.js';

export interface RunningAccessLog {
  log: AccessLog;
  close(): Promise<void>;
}

/**
 * Null when accessLog.path is unset. Throws SG_ACCESS_LOG_UNWRITABLE when the file cannot be opened.
 * The path, format and parent are read at start: changing them needs a restart.
 */
export function openAccessLog(
  config: ReadonlyConfig,
  logger: Logger,
  routed: ReadonlyMap<string, string>,
): RunningAccessLog | null {
  const { path, format } = config.accessLog;
  if (!path) return null;
  const parent = config.upstream.proxy ? new URL(config.upstream.proxy).host : null;
  const log = new AccessLog({ path, format, context: () => ({ parent, routed }), logger });
  // SIGUSR1 as `squid -k rotate`: logrotate renames the file, then signals; the next line goes to a new one.
  const onUsr1 = () => log.reopen();
  process.on('SIGUSR1', onUsr1);
  return {
    log,
    close: () => {
      process.off('SIGUSR1', onUsr1);
      return log.close();
    },
  };
}
