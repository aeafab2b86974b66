/**
 * The webhook sink: each alert POSTed as JSON, signed, retried, never blocking.
 *
 * Signature (for the receiver): `X-Schoolgate-Timestamp: <unix seconds>` and
 * `X-Schoolgate-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>.<raw body>")>`. The receiver
 * recomputes it over the raw bytes it got, compares in constant time, and refuses a timestamp more than a
 * few minutes old, so a captured request cannot be replayed later. A retry is signed afresh (new
 * timestamp); `X-Schoolgate-Alert-Id` (also `alert.id` in the body) lets the receiver drop duplicates.
 *
 * Node's http/https client (as src/proxy/forward.ts): the certificate is verified against the system store
 * (and caFile when given); redirects are not followed; an answer other than 2xx is a failure — 408, 425,
 * 429 and 5xx are retried, any other status is a refusal that retrying cannot cure (a dead letter at once).
 * The log names only the URL's origin: many webhook URLs (Teams, Slack) carry their key in the path.
 */
import { createHmac } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import type { Logger } from 'pino';
import { SchoolgateError } from '../../errors.js';
import type { WebhookSinkConfig } from './config.js';
import { DeliveryQueue, PermanentDeliveryError } from './delivery.js';
import { defang } from './render.js';
import { describeError, makeRedactor, readSecret, trustWithCaFile } from './secrets.js';
import type { Alert, AlertSink } from './types.js';

export const SIGNATURE_HEADER = 'x-schoolgate-signature';
export const TIMESTAMP_HEADER = 'x-schoolgate-timestamp';
export const ALERT_ID_HEADER = 'x-schoolgate-alert-id';

/** The smallest signing secret accepted: an HMAC key a person could guess is no key. */
export const MIN_SECRET_LENGTH = 16;

/** `sha256=<hex>` over `<timestamp>.<body>`. */
export function signWebhook(secret: string, timestamp: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`, 'utf8').digest('hex')}`;
}

/** The JSON body: the alert as the engine made it, ISO times beside the epoch ones, and a defanged URL. */
export function webhookPayload(alert: Alert): Record<string, unknown> {
  return {
    type: 'schoolgate.alert',
    version: 1,
    test: alert.test === true,
    alert: {
      id: alert.id,
      severity: alert.severity,
      rule: alert.rule,
      list: alert.list,
      user: alert.user,
      profile: alert.profile,
      device: alert.device,
      clientIp: alert.clientIp,
      count: alert.count,
      firstTime: alert.firstTime,
      lastTime: alert.lastTime,
      firstTimeIso: new Date(alert.firstTime).toISOString(),
      lastTimeIso: new Date(alert.lastTime).toISOString(),
      url: alert.url,
      // For receivers that show text to people (a chat channel): never a clickable link.
      urlDefanged: alert.url === null ? null : defang(alert.url),
      searchTerm: alert.searchTerm,
      auditRowIds: alert.auditRowIds,
    },
  };
}

export interface WebhookSinkOptions {
  config: WebhookSinkConfig;
  logger: Logger;
  env?: NodeJS.ProcessEnv;
  /** For tests of the jitter. */
  random?: () => number;
}

export interface WebhookSink extends AlertSink {
  readonly name: 'webhook';
  /** delivered / retry / dead-letter, for tests and for whoever wants to watch. */
  readonly events: DeliveryQueue;
}

const RETRYABLE = new Set([408, 425, 429]);

export function createWebhookSink(opts: WebhookSinkOptions): WebhookSink {
  const { config } = opts;
  const logger = opts.logger.child({ sink: 'webhook' });
  const secret = readSecret(
    { field: 'alerts.webhook.secretFile', file: config.secretFile, env: config.secretEnv },
    opts.env,
  );
  if (secret.length < MIN_SECRET_LENGTH) {
    throw new SchoolgateError(
      'SG_CONFIG_INVALID',
      `alerts.webhook: the signing secret is shorter than ${MIN_SECRET_LENGTH} characters`,
      { suggestion: 'Generate one: openssl rand -hex 32' },
    );
  }
  const url = new URL(config.url);
  const origin = url.origin;
  const redact = makeRedactor([secret, url.pathname.length > 1 ? url.pathname : '', url.search.slice(1)]);
  const describe = (err: unknown) => describeError(err, redact);

  const ca = trustWithCaFile(config.caFile, 'alerts.webhook.caFile');
  const isHttps = url.protocol === 'https:';
  const agent = isHttps
    ? new https.Agent({ keepAlive: true, maxSockets: 4, ...(ca ? { ca } : {}) })
    : new http.Agent({ keepAlive: true, maxSockets: 4 });

  const post = (alert: Alert, attempt: number): Promise<void> =>
    new Promise<void>((resolve, reject) => {
      const body = JSON.stringify(webhookPayload(alert));
      const timestamp = String(Math.floor(Date.now() / 1000));
      const headers = {
        'content-type': 'application/json',
        'content-length': String(Buffer.byteLength(body)),
        'user-agent': 'schoolgate-alerts/1',
        [TIMESTAMP_HEADER]: timestamp,
        [SIGNATURE_HEADER]: signWebhook(secret, timestamp, body),
        [ALERT_ID_HEADER]: alert.id,
        'x-schoolgate-attempt': String(attempt),
      };
      const request = isHttps ? https.request : http.request;
      const req = request(url, { method: 'POST', agent, headers });
      let settled = false;
      const finish = (err?: Error) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (err) reject(err);
        else resolve();
      };
      // One deadline for the whole exchange (connect, TLS, answer), not an idle timeout.
      const timer = setTimeout(() => {
        req.destroy(new Error(`no answer within ${config.timeoutMs} ms`));
      }, config.timeoutMs);
      req.on('error', (err) => finish(err));
      req.on('response', (res) => {
        const status = res.statusCode ?? 0;
        // The answer's body is not read, only drained (bounded, so a stuck receiver cannot hold a socket).
        res.on('error', () => {});
        res.setTimeout(config.timeoutMs, () => res.destroy());
        res.resume();
        if (status >= 200 && status < 300) finish();
        else if (status >= 500 || RETRYABLE.has(status)) finish(new Error(`HTTP ${status} from ${origin}`));
        else finish(new PermanentDeliveryError(`HTTP ${status} from ${origin}`));
      });
      req.on('close', () => finish(new Error(`connection to ${origin} closed before an answer`)));
      req.end(body);
    });

  const queue = new DeliveryQueue({
    sink: 'webhook',
    policy: config,
    logger,
    deliver: post,
    describe,
    ...(opts.random ? { random: opts.random } : {}),
  });

  logger.info({ origin, maxAttempts: config.maxAttempts }, 'alert webhook sink ready');

  return {
    name: 'webhook',
    events: queue,
    send(alert) {
      queue.enqueue(alert);
    },
    async test(alert) {
      try {
        await post(alert, 1);
      } catch (err) {
        throw new Error(describe(err));
      }
    },
    stats: () => queue.stats(),
    async close() {
      await queue.close(Math.min(config.timeoutMs, 5_000));
      agent.destroy();
    },
  };
}
