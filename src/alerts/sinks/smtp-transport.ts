/**
 * One SMTP transport to the school's relay, shared by the alert e-mails (email.ts) and the scheduled
 * digests (src/alerts/digest/): the TLS rules, the credentials read from files or the environment, the
 * redaction of every failure text, and the headers of an automatic message — written once.
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
import type { EmailSinkConfig } from './config.js';
import { PermanentDeliveryError } from './delivery.js';
import { describeError, makeRedactor, readSecret, trustWithCaFile } from './secrets.js';

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
    // Nothing in a schoolgate mail is fetched from a file or a URL.
    disableFileAccess: true,
    disableUrlAccess: true,
  };
}

export interface SchoolMail {
  subject: string;
  text: string;
  html: string;
  priority?: 'high' | 'normal';
  /** Added to the automatic-message headers. */
  headers?: Record<string, string>;
}

export interface SmtpTransport {
  /** One attempt to the config's `to`; rejects with PermanentDeliveryError for a refusal (SMTP 5xx). */
  send(mail: SchoolMail): Promise<void>;
  /** A failure as a short, single-line text with every credential form removed. */
  describe(err: unknown): string;
  close(): void;
}

/**
 * The transport for `alerts.email`. Reads the credentials now: a missing secret file or variable throws
 * SG_CONFIG_INVALID (a configuration error at start-up, not a failed delivery later).
 */
export function createSmtpTransport(config: EmailSinkConfig, env?: NodeJS.ProcessEnv): SmtpTransport {
  const hasAuth = config.passwordFile !== undefined || config.passwordEnv !== undefined;
  let auth: { user: string; pass: string } | null = null;
  if (hasAuth) {
    const user =
      config.user ??
      readSecret({ field: 'alerts.email.userFile', file: config.userFile, env: config.userEnv }, env);
    const pass = readSecret(
      { field: 'alerts.email.passwordFile', file: config.passwordFile, env: config.passwordEnv },
      env,
    );
    auth = { user, pass };
  }
  // The password, and the forms SMTP AUTH sends it in (PLAIN: base64 of \0user\0pass; LOGIN: base64 of each).
  const redact = makeRedactor(auth ? [auth.pass, `\u0000${auth.user}\u0000${auth.pass}`] : []);
  const describe = (err: unknown) => describeError(err, redact);
  const ca = trustWithCaFile(config.caFile, 'alerts.email.caFile');
  const transport = nodemailer.createTransport(smtpOptions(config, auth, ca));

  return {
    describe,
    async send(mail) {
      try {
        await transport.sendMail({
          from: config.from,
          to: config.to,
          subject: mail.subject,
          text: mail.text,
          html: mail.html,
          priority: mail.priority ?? 'normal',
          headers: {
            ...mail.headers,
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
    },
    close: () => transport.close(),
  };
}
