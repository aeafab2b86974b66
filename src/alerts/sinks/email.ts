/**
 * The e-mail sink: each alert mailed to the DSL over SMTP with nodemailer — a plain-text part and a small
 * HTML part (src/alerts/sinks/render.ts: addresses defanged, nothing clickable), retried like the webhook.
 *
 * TLS to the SMTP server always, unless the config says otherwise for a loopback relay: `secure: true` is
 * TLS from the first byte; otherwise STARTTLS is *required* (nodemailer's requireTLS: a server that does
 * not offer it, or a STARTTLS stripped by something on the path, is not sent to). `starttls: false` — plain
 * SMTP — passes the config schema only for a loopback host. The server's certificate is verified (system
 * store plus caFile) unless `rejectUnauthorized: false`. Credentials come from files or the environment and
 * nodemailer's own logger is off, so no SMTP transcript (AUTH lines included) reaches the log.
 */
import nodemailer from 'nodemailer';
import type { SMTPTransportOptions } from 'nodemailer';
import type { Logger } from 'pino';
import type { EmailSinkConfig } from './config.js';
import { DeliveryQueue, PermanentDeliveryError } from './delivery.js';
import { alertHtml, alertSubject, alertText } from './render.js';
import { describeError, makeRedactor, readSecret, trustWithCaFile } from './secrets.js';
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

/** The transport options nodemailer gets (exported for the tests of the TLS rules). */
export function smtpOptions(
  config: EmailSinkConfig,
  auth: { user: string; pass: string } | null,
  ca: string[] | undefined,
): SMTPTransportOptions {
  return {
    host: config.host,
    port: config.port,
    secure: config.secure,
    requireTLS: !config.secure && config.starttls,
    ignoreTLS: !config.secure && !config.starttls,
    ...(auth ? { auth } : {}),
    tls: {
      rejectUnauthorized: config.rejectUnauthorized,
      minVersion: 'TLSv1.2',
      ...(ca ? { ca } : {}),
    },
    connectionTimeout: config.timeoutMs,
    greetingTimeout: config.timeoutMs,
    socketTimeout: config.timeoutMs,
    logger: false,
    debug: false,
    // Nothing in an alert mail is fetched from a file or a URL.
    disableFileAccess: true,
    disableUrlAccess: true,
  };
}

export function createEmailSink(opts: EmailSinkOptions): EmailSink {
  const { config } = opts;
  const logger = opts.logger.child({ sink: 'email' });
  const timeZone = config.timeZone ?? opts.timeZone ?? 'Europe/London';

  const hasAuth = config.passwordFile !== undefined || config.passwordEnv !== undefined;
  let auth: { user: string; pass: string } | null = null;
  if (hasAuth) {
    const user =
      config.user ??
      readSecret({ field: 'alerts.email.userFile', file: config.userFile, env: config.userEnv }, opts.env);
    const pass = readSecret(
      { field: 'alerts.email.passwordFile', file: config.passwordFile, env: config.passwordEnv },
      opts.env,
    );
    auth = { user, pass };
  }
  // The password, and the forms SMTP AUTH sends it in (PLAIN: base64 of \0user\0pass; LOGIN: base64 of each).
  const redact = makeRedactor(auth ? [auth.pass, `\u0000${auth.user}\u0000${auth.pass}`] : []);
  const describe = (err: unknown) => describeError(err, redact);

  const ca = trustWithCaFile(config.caFile, 'alerts.email.caFile');

  const transport = nodemailer.createTransport(smtpOptions(config, auth, ca));

  const deliver = async (alert: Alert): Promise<void> => {
    try {
      await transport.sendMail({
        from: config.from,
        to: config.to,
        subject: alertSubject(alert),
        text: alertText(alert, timeZone),
        html: alertHtml(alert, timeZone),
        priority: alert.severity === 'danger' ? 'high' : 'normal',
        headers: {
          'X-Schoolgate-Alert-Id': alert.id,
          'X-Schoolgate-Severity': alert.severity,
          // An automatic message: no out-of-office replies back to the sender address.
          'Auto-Submitted': 'auto-generated',
          'X-Auto-Response-Suppress': 'All',
        },
      });
    } catch (err) {
      const e = err as { permanent?: boolean };
      if (e?.permanent === true) throw new PermanentDeliveryError(describe(err));
      throw err;
    }
  };

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
      transport.close();
    },
  };
}
