/**
 * The configuration of the alert sinks: a zod fragment for `alerts` in src/config/schema.ts (the engine's
 * own settings — rules, windows — join it there). Secrets are never values in the config file: each is
 * named by a file or an environment variable, read when the sinks are created, and never logged.
 */
import { isIP } from 'node:net';
import { z } from 'zod';

/** 127.0.0.0/8, ::1 and `localhost`: traffic that never leaves the machine. */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (h === 'localhost' || h.endsWith('.localhost')) return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  if (isIP(h) === 6) return h === '::1' || h === '0:0:0:0:0:0:0:1' || /^::ffff:127\./.test(h);
  return false;
}

const retryShape = {
  maxAttempts: z
    .number()
    .int()
    .min(1)
    .max(20)
    .default(5)
    .describe('Delivery attempts per alert (the first included) before it is counted as a dead letter.'),
  initialBackoffMs: z
    .number()
    .int()
    .min(1)
    .max(600_000)
    .default(5_000)
    .describe('Wait before the first retry; it doubles for each later retry (jittered: half to all of it).'),
  maxBackoffMs: z
    .number()
    .int()
    .min(1)
    .max(3_600_000)
    .default(120_000)
    .describe('The longest wait between two attempts.'),
  queueLimit: z
    .number()
    .int()
    .min(1)
    .max(100_000)
    .default(1_000)
    .describe(
      'Alerts held in memory while the receiver is down; when full, the oldest waiting alert is dropped (a dead letter, logged).',
    ),
};

const fileSource = (what: string) =>
  z
    .string()
    .min(1)
    .optional()
    .describe(`A file holding the ${what} (one line; trailing newline ignored). Keep it mode 0600.`);
const envSource = (what: string) =>
  z.string().min(1).optional().describe(`An environment variable holding the ${what}.`);

export const webhookSinkSchema = z
  .strictObject({
    url: z
      .url()
      .describe(
        'Where alerts are POSTed as JSON. https:// (certificate verified against the system store and caFile); http:// only to a loopback address.',
      ),
    secretFile: z
      .string()
      .min(1)
      .optional()
      .describe(
        'A file holding the HMAC-SHA256 signing secret (at least 16 characters; trailing newline ignored). Keep it mode 0600.',
      ),
    secretEnv: z
      .string()
      .min(1)
      .optional()
      .describe('An environment variable holding the signing secret; used when no secretFile is given.'),
    caFile: z
      .string()
      .min(1)
      .optional()
      .describe(
        'Extra CA certificate(s), PEM, trusted for the webhook on top of the system store (an internal CA).',
      ),
    timeoutMs: z
      .number()
      .int()
      .min(100)
      .max(120_000)
      .default(10_000)
      .describe('One attempt fails when the receiver has not answered within this time.'),
    ...retryShape,
  })
  .superRefine((w, ctx) => {
    if (!w.secretFile && !w.secretEnv) {
      ctx.addIssue({
        code: 'custom',
        path: ['secretFile'],
        message: 'the webhook needs a signing secret: set secretFile or secretEnv',
      });
    }
    const url = new URL(w.url);
    if (url.protocol === 'http:' && !isLoopbackHost(url.hostname)) {
      ctx.addIssue({
        code: 'custom',
        path: ['url'],
        message: 'alerts name pupils: use https:// (http:// is allowed only to a loopback address)',
      });
    } else if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      ctx.addIssue({ code: 'custom', path: ['url'], message: 'expected an https:// URL' });
    }
  })
  .describe('POST each alert as signed JSON to a URL (a chat bot, a safeguarding system, a SIEM).');

export const emailSinkSchema = z
  .strictObject({
    host: z.string().min(1).describe('The SMTP server (the school relay or its mail provider).'),
    port: z.number().int().min(1).max(65535).default(587).describe('587 for STARTTLS, 465 for secure: true.'),
    secure: z
      .boolean()
      .default(false)
      .describe(
        'TLS from the first byte (SMTPS, usually port 465). When false the connection starts in clear and is upgraded with STARTTLS (see starttls).',
      ),
    starttls: z
      .boolean()
      .default(true)
      .describe(
        'Require STARTTLS before anything is sent; a server that does not offer it is not sent to. false (plain SMTP) is accepted only for a relay on a loopback address.',
      ),
    rejectUnauthorized: z
      .boolean()
      .default(true)
      .describe(
        "Verify the SMTP server's certificate (system store and caFile). Turning it off lets anyone on the path read the alerts.",
      ),
    caFile: z
      .string()
      .min(1)
      .optional()
      .describe('Extra CA certificate(s), PEM, trusted for the SMTP server on top of the system store.'),
    from: z.string().min(3).describe('The sender, e.g. "Schoolgate <schoolgate@school.example>".'),
    to: z.array(z.email()).min(1).describe('The DSL and deputies: internal addresses only.'),
    user: z.string().min(1).optional().describe('SMTP login name (not secret); or userFile / userEnv.'),
    userFile: fileSource('SMTP login name'),
    userEnv: envSource('SMTP login name'),
    passwordFile: fileSource('SMTP password'),
    passwordEnv: envSource('SMTP password; used when no passwordFile is given'),
    timeZone: z
      .string()
      .optional()
      .describe('Time zone of the times in the mail; defaults to the proxy timeZone.'),
    timeoutMs: z
      .number()
      .int()
      .min(100)
      .max(300_000)
      .default(20_000)
      .describe('Connection, greeting and idle-socket timeout of one attempt.'),
    ...retryShape,
  })
  .superRefine((e, ctx) => {
    if (!e.secure && !e.starttls && !isLoopbackHost(e.host)) {
      ctx.addIssue({
        code: 'custom',
        path: ['starttls'],
        message:
          'alerts name pupils: plain SMTP (starttls: false) is allowed only to a loopback relay; use STARTTLS or secure: true',
      });
    }
    if (e.user !== undefined && (e.userFile !== undefined || e.userEnv !== undefined)) {
      ctx.addIssue({
        code: 'custom',
        path: ['user'],
        message: 'give user, userFile or userEnv, not several',
      });
    }
    const hasUser = e.user !== undefined || e.userFile !== undefined || e.userEnv !== undefined;
    const hasPassword = e.passwordFile !== undefined || e.passwordEnv !== undefined;
    if (hasUser !== hasPassword) {
      ctx.addIssue({
        code: 'custom',
        path: [hasUser ? 'passwordFile' : 'user'],
        message: 'SMTP authentication needs both a user and a password (passwordFile or passwordEnv)',
      });
    }
  })
  .describe('E-mail each alert to the DSL over SMTP (plain text and HTML, addresses never clickable).');

/** The sink fields of `alerts` (spread into the engine's object in src/config/schema.ts). */
export const alertSinksShape = {
  webhook: webhookSinkSchema.nullable().default(null).describe('The webhook sink; null = none.'),
  email: emailSinkSchema.nullable().default(null).describe('The e-mail sink; null = none.'),
};

export const alertSinksSchema = z.strictObject(alertSinksShape);

export type WebhookSinkConfig = z.output<typeof webhookSinkSchema>;
export type EmailSinkConfig = z.output<typeof emailSinkSchema>;
export type AlertSinksConfig = z.output<typeof alertSinksSchema>;
export type AlertSinksConfigInput = z.input<typeof alertSinksSchema>;
