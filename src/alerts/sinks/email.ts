/**
 * The e-mail sink: each alert mailed to the DSL over SMTP with nodemailer — a plain-text part and a small
 * HTML part (src/alerts/sinks/render.ts: addresses defanged, nothing clickable), retried like the webhook.
 * The transport (TLS rules, credentials from files or the environment, redaction) is smtp-transport.ts,
 * shared with the scheduled digests.
 */
import type { Logger } from 'pino';
import type { EmailSinkConfig } from './config.js';
import { DeliveryQueue } from './delivery.js';
import { alertHtml, alertSubject, alertText } from './render.js';
import { createSmtpTransport } from './smtp-transport.js';
import type { Alert, AlertSink } from './types.js';

export interface EmailSinkOptions {
  config: EmailSinkConfig;
  logger: Logger;
  /** The proxy's time zone, used when the sink's config names none. */
  timeZone?: string;
  env?: NodeJS.ProcessEnv;
  random?: () => number;
}

export interface EmailSink extends AlertSink {
  readonly name: 'email';
  readonly events: DeliveryQueue;
}

export function createEmailSink(opts: EmailSinkOptions): EmailSink {
  const { config } = opts;
  const logger = opts.logger.child({ sink: 'email' });
  const timeZone = config.timeZone ?? opts.timeZone ?? 'Europe/London';

  const smtp = createSmtpTransport(config, opts.env);
  const describe = smtp.describe;

  const deliver = (alert: Alert): Promise<void> =>
    smtp.send({
      subject: alertSubject(alert),
      text: alertText(alert, timeZone),
      html: alertHtml(alert, timeZone),
      priority: alert.severity === 'danger' ? 'high' : 'normal',
      headers: { 'X-Schoolgate-Alert-Id': alert.id, 'X-Schoolgate-Severity': alert.severity },
    });

  const queue = new DeliveryQueue({
    sink: 'email',
    policy: config,
    logger,
    deliver,
    describe,
    // One SMTP conversation at a time per alert is plenty; a relay dislikes many parallel connections.
    concurrency: 2,
    ...(opts.random ? { random: opts.random } : {}),
  });

  logger.info(
    {
      host: config.host,
      port: config.port,
      tls: config.secure ? 'implicit' : config.starttls ? 'starttls-required' : 'none (loopback relay)',
      recipients: config.to.length,
      maxAttempts: config.maxAttempts,
    },
    'alert e-mail sink ready',
  );

  return {
    name: 'email',
    events: queue,
    send(alert) {
      queue.enqueue(alert);
    },
    async test(alert) {
      try {
        await deliver(alert);
      } catch (err) {
        throw new Error(describe(err));
      }
    },
    stats: () => queue.stats(),
    async close() {
      await queue.close(Math.min(config.timeoutMs, 5_000));
      smtp.close();
    },
  };
}
