/** audit.purgeAt on a serving node: the nightly purge (src/audit/nightly-purge.ts) started with the node. */
import type { Logger } from 'pino';
import { realClock, type SchedulerClock } from '../alerts/digest/index.js';
import { NightlyPurge, type NightlyPurgeDeps } from '../audit/nightly-purge.js';
import type { ReadonlyConfig } from '../config/load.js';
import { currentOsUser } from '../reports/access.js';

/** audit.purgeAt: the nightly purge, with the retention read from the config in force at each run. */
export function startRetention(
  config: ReadonlyConfig,
  auditPath: string,
  current: () => ReadonlyConfig,
  logger: Logger,
  clock: SchedulerClock = realClock,
  run: NightlyPurgeDeps['run'] | null = null,
): NightlyPurge | null {
  if (config.audit.purgeAt === null) return null;
  const purge = new NightlyPurge({
    at: config.audit.purgeAt,
    timeZone: config.timeZone,
    auditPath,
    retentionDays: () => current().reports.retentionDays,
    osUser: currentOsUser(),
    clock,
    logger: logger.child({ component: 'retention' }),
    ...(run ? { run } : {}),
  });
  purge.start();
  return purge;
}
