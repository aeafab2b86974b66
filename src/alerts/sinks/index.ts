/**
 * The alert sinks as one value for the alerts engine: `send(alert)` fans out to the log, the webhook and
 * the e-mail (whichever are configured) and returns at once; `stats()` and `deadLetters` feed `status` and
 * /metrics; `testSinks()` is `schoolgate alerts test`. The alerts table is not here: it is the engine's
 * own record (written before any sink is called), not a delivery.
 */
import type { Logger } from 'pino';
import { newEventId } from '../../audit/event-id.js';
import type { AlertSinksConfig } from './config.js';
import { alertLogFields } from './delivery.js';
import { createEmailSink } from './email.js';
import type { Alert, AlertSink, SinkStats } from './types.js';
import { createWebhookSink } from './webhook.js';

export type { Alert, AlertSeverity, AlertSink, SinkStats } from './types.js';
export { alertSinksSchema, alertSinksShape, emailSinkSchema, webhookSinkSchema } from './config.js';
export type {
  AlertSinksConfig,
  AlertSinksConfigInput,
  EmailSinkConfig,
  WebhookSinkConfig,
} from './config.js';
export { createEmailSink } from './email.js';
export { createWebhookSink, signWebhook } from './webhook.js';

/**
 * The pino log as a sink: one warn line per alert with who and which rule — not the URL or the search
 * term. The process log is read by technicians and often shipped off the machine; the content of an alert
 * is for the DSL (e-mail, webhook, `alerts show`), and the log line is enough to correlate.
 */
export function createLogSink(logger: Logger): AlertSink {
  let delivered = 0;
  const write = (alert: Alert) => {
    logger.warn(
      {
        ...alertLogFields(alert),
        list: alert.list,
        user: alert.user,
        profile: alert.profile,
        device: alert.device,
        clientIp: alert.clientIp,
        count: alert.count,
      },
      'safeguarding alert',
    );
    delivered += 1;
  };
  return {
    name: 'log',
    send(alert) {
      try {
        write(alert);
      } catch {
        // a log that cannot be written must not break the caller
      }
    },
    async test(alert) {
      write(alert);
    },
    stats: () => ({
      queued: 0,
      delivered,
      failedAttempts: 0,
      deadLetters: 0,
      lastError: null,
      lastErrorAt: null,
    }),
    async close() {},
  };
}

export interface AlertSinks {
  readonly sinks: readonly AlertSink[];
  /** To every sink; returns at once, never throws. The alert is copied and frozen first. */
  send(alert: Alert): void;
  stats(): Record<string, SinkStats>;
  /** Dead letters over all sinks (for `status` and schoolgate_alert_dead_letters_total). */
  readonly deadLetters: number;
  close(): Promise<void>;
}

export interface AlertSinksDeps {
  logger: Logger;
  /** The proxy's time zone (config.timeZone), for the times in e-mails. */
  timeZone?: string;
  env?: NodeJS.ProcessEnv;
  random?: () => number;
}

/**
 * Builds the configured sinks (the log always). Throws SG_CONFIG_INVALID at start-up when a secret file
 * or variable is missing — a sink that cannot sign or log in is a configuration error, not a runtime one.
 */
export function createAlertSinks(config: AlertSinksConfig, deps: AlertSinksDeps): AlertSinks {
  const logger = deps.logger.child({ component: 'alerts' });
  const extra = {
    ...(deps.env ? { env: deps.env } : {}),
    ...(deps.random ? { random: deps.random } : {}),
  };
  const sinks: AlertSink[] = [createLogSink(logger)];
  try {
    if (config.webhook) sinks.push(createWebhookSink({ config: config.webhook, logger, ...extra }));
    if (config.email) {
      sinks.push(
        createEmailSink({
          config: config.email,
          logger,
          ...(deps.timeZone ? { timeZone: deps.timeZone } : {}),
          ...extra,
        }),
      );
    }
  } catch (err) {
    for (const s of sinks) void s.close();
    throw err;
  }
  return fanOut(sinks, logger);
}

/** Several sinks as one. */
export function fanOut(sinks: readonly AlertSink[], logger: Logger): AlertSinks {
  return {
    sinks,
    send(alert) {
      let frozen: Alert;
      try {
        frozen = Object.freeze({ ...alert, auditRowIds: Object.freeze([...alert.auditRowIds]) });
      } catch (err) {
        logger.error({ err: (err as Error).message }, 'alert not sent: not an alert value');
        return;
      }
      for (const sink of sinks) {
        try {
          sink.send(frozen);
        } catch (err) {
          logger.error({ sink: sink.name, err: (err as Error).message }, 'alert sink threw');
        }
      }
    },
    stats() {
      return Object.fromEntries(sinks.map((s) => [s.name, s.stats()]));
    },
    get deadLetters() {
      return sinks.reduce((n, s) => n + s.stats().deadLetters, 0);
    },
    async close() {
      await Promise.allSettled(sinks.map((s) => s.close()));
    },
  };
}

/** The alert `schoolgate alerts test` sends: marked as a test everywhere it shows. */
export function makeTestAlert(now = Date.now()): Alert {
  return {
    id: newEventId(now),
    user: 'schoolgate-test',
    profile: null,
    device: null,
    clientIp: '127.0.0.1',
    firstTime: now,
    lastTime: now,
    count: 1,
    rule: 'test',
    list: null,
    severity: 'advisory',
    url: 'https://schoolgate-test.invalid/this-is-a-test',
    searchTerm: 'schoolgate test alert',
    auditRowIds: [],
    test: true,
  };
}

export interface SinkTestResult {
  sink: string;
  ok: boolean;
  /** Why it failed, secret-free; absent when ok. */
  error?: string;
}

/**
 * Sends one test alert through every sink, each with a single direct attempt (no queue, no retries), all
 * at once, and says which worked. Never rejects; a sink that does not answer within `timeoutMs` fails.
 */
export async function testSinks(
  sinks: AlertSinks | readonly AlertSink[],
  opts: { alert?: Alert; timeoutMs?: number } = {},
): Promise<SinkTestResult[]> {
  const list = 'sinks' in sinks ? sinks.sinks : sinks;
  const alert = opts.alert ?? makeTestAlert();
  const timeoutMs = opts.timeoutMs ?? 60_000;
  return Promise.all(
    list.map(async (sink): Promise<SinkTestResult> => {
      let timer: NodeJS.Timeout | undefined;
      try {
        await Promise.race([
          sink.test(alert),
          new Promise<never>((_, reject) => {
            timer = setTimeout(() => reject(new Error(`no result within ${timeoutMs} ms`)), timeoutMs);
          }),
        ]);
        return { sink: sink.name, ok: true };
      } catch (err) {
        return { sink: sink.name, ok: false, error: err instanceof Error ? err.message : String(err) };
      } finally {
        clearTimeout(timer);
      }
    }),
  );
}
