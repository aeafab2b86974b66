/**
 * The school CA as the running proxy holds it: read at start (created on a first start) and again on every
 * reload, so `schoolgate ca renew --activate` + `schoolgate reload` switches signing without a restart.
 * A CA that cannot sign (expired, key missing, unreadable or not the certificate's) is an outage said loudly
 * (log, /healthz, `status`, /metrics), never a quiet downgrade: inspected profiles' HTTPS is refused
 * (SG_CA_UNUSABLE, src/exchange/connect.ts), never tunnelled raw.
 */
import type { Logger } from 'pino';
import type { ReadonlyConfig } from '../config/load.js';
import { isSchoolgateError } from '../errors.js';
import type { ProxyServer } from '../proxy/server.js';
import { readNextCa } from '../tls/ca-renew.js';
import { caDaysLeft, CA_EXPIRY_WARNING_DAYS, loadOrCreateCa, readCa, type SchoolCa } from '../tls/ca.js';

export interface CaFiles {
  /** The CA that signs leaves, or null when none can be used. */
  signing: SchoolCa | null;
  /** The staged next CA (`schoolgate ca renew`), published at /ca-next.crt; null when none. */
  next: SchoolCa | null;
  /** Why there is no signing CA (the SG_CA_UNUSABLE message), else null. */
  problem: string | null;
}

/** One CA as `status` shows it. */
export interface CaInfo {
  subject: string;
  fingerprint256: string;
  notBefore: string;
  notAfter: string;
  daysLeft: number;
}

export interface CaStatus {
  /** Inspected profiles' HTTPS can be inspected now (false: it is refused). */
  inspection: boolean;
  /** Why not, when it cannot. */
  problem: string | null;
  current: CaInfo | null;
  next: CaInfo | null;
  /** The current CA ends within CA_EXPIRY_WARNING_DAYS. */
  expiringSoon: boolean;
}

const RENEW_STEPS =
  '`schoolgate ca renew`, install /ca-next.crt on devices beside the current certificate, then ' +
  '`schoolgate ca renew --activate` and `schoolgate reload`';

/**
 * Reads the CA files; null when inspection is off. `create` (start only) makes the CA when neither file is
 * there; a reload never creates one (a CA no device trusts is not a fix).
 */
export function loadSchoolCa(
  config: ReadonlyConfig,
  certsDir: string,
  logger: Logger,
  opts: { create?: boolean; now?: Date } = {},
): CaFiles | null {
  if (!config.tls.inspect) return null;
  const create = opts.create ?? true;
  let signing: SchoolCa | null = null;
  let problem: string | null = null;
  try {
    if (create) {
      const loaded = loadOrCreateCa(certsDir, config.tls.caName);
      signing = loaded.ca;
      if (loaded.created)
        logger.info(
          { certsDir, fingerprint256: signing.fingerprint256 },
          'created the school CA: devices must install it (http://<proxy>/ca.crt) before HTTPS inspection works',
        );
    } else {
      signing = readCa(certsDir);
      if (!signing) problem = `no school CA files in ${certsDir}`;
    }
  } catch (err) {
    if (!isSchoolgateError(err) || err.code !== 'SG_CA_UNUSABLE') throw err;
    problem = err.message;
  }
  let next: SchoolCa | null = null;
  try {
    next = readNextCa(certsDir);
  } catch (err) {
    logger.warn(
      { certsDir, err: String(err) },
      'the staged next school CA cannot be read: it is not published; stage it again with `schoolgate ca renew --force`',
    );
  }
  if (problem !== null)
    logger.error(
      { certsDir, code: 'SG_CA_UNUSABLE' },
      `the school CA cannot be used: HTTPS of inspected profiles is REFUSED until it is fixed: ${problem}`,
    );
  const warning = signing ? expiryWarning(signing, next, opts.now) : null;
  if (warning) logger[warning.level]({ certsDir, ...warning.fields }, warning.message);
  return { signing, next, problem };
}

/** What to log about the CA's expiry now (error once expired, warning within the last 30 days), or null. */
export function expiryWarning(
  ca: SchoolCa,
  next: SchoolCa | null,
  now = new Date(),
): { level: 'error' | 'warn'; message: string; fields: Record<string, unknown> } | null {
  const daysLeft = caDaysLeft(ca, now);
  if (daysLeft >= CA_EXPIRY_WARNING_DAYS) return null;
  const fields = { notAfter: ca.notAfter.toISOString(), daysLeft, nextStaged: next !== null };
  const todo = next
    ? 'a next CA is staged: once devices have it (/ca-next.crt), run `schoolgate ca renew --activate` and `schoolgate reload`'
    : `renew it: ${RENEW_STEPS}`;
  if (daysLeft < 0)
    return {
      level: 'error',
      fields: { ...fields, code: 'SG_CA_UNUSABLE' },
      message: `the school CA has expired: HTTPS of inspected profiles is REFUSED until it is renewed; ${todo}`,
    };
  return { level: 'warn', fields, message: `the school CA expires soon (${daysLeft} days left): ${todo}` };
}

/** How often a running proxy says again that its CA is near expiry (it may run for months unrestarted). */
const EXPIRY_CHECK_MS = 6 * 3600_000;

/** Repeats the expiry warning while the proxy runs; stop() on shutdown. */
export function watchCaExpiry(
  proxy: Pick<ProxyServer, 'tls' | 'nextCa'>,
  logger: Logger,
  now?: () => Date,
): { stop(): void } {
  const timer = setInterval(() => {
    const ca = proxy.tls?.ca;
    const warning = ca ? expiryWarning(ca, proxy.nextCa, now?.()) : null;
    if (warning) logger[warning.level](warning.fields, warning.message);
  }, EXPIRY_CHECK_MS);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}

/**
 * A reload's look at the CA files: a newly activated CA is switched in (leaf cache emptied), a staged one
 * published. Files that cannot be read leave the running CA signing. Returns the line for the reload's answer
 * and the problem `status` shows from now on.
 */
export function reloadSchoolCa(
  proxy: ProxyServer,
  config: ReadonlyConfig,
  certsDir: string,
  logger: Logger,
): { note: string | null; problem: string | null } {
  const files = loadSchoolCa(config, certsDir, logger, { create: false });
  if (!files) return { note: null, problem: null };
  const result = proxy.useCa(files.signing, files.next);
  const signing = proxy.tls?.ca;
  const staged = files.next ? `; next CA staged (/ca-next.crt, expires ${day(files.next.notAfter)})` : '';
  switch (result) {
    case 'switched':
      logger.info(
        { fingerprint256: signing?.fingerprint256, subject: signing?.subject },
        'school CA switched: new inspected connections get certificates signed by the new CA',
      );
      return {
        note: `school CA switched: now signing with ${signing?.subject ?? '?'}${staged}`,
        problem: null,
      };
    case 'started':
      return { note: `school CA usable again: HTTPS inspection resumed${staged}`, problem: null };
    case 'unchanged':
      return { note: staged ? `school CA unchanged${staged}` : null, problem: null };
    case 'kept':
      return {
        note: `school CA files unreadable (${files.problem ?? '?'}): the running CA keeps signing`,
        problem: null,
      };
    case 'unusable':
      return { note: `school CA still UNUSABLE: ${files.problem ?? '?'}`, problem: files.problem };
    case 'inspection-off':
      return { note: null, problem: null };
  }
}

/** The CA part of `status` (null when inspection is off). */
export function caStatus(
  proxy: Pick<ProxyServer, 'tls' | 'nextCa' | 'inspectionReady'>,
  config: ReadonlyConfig,
  loadProblem: string | null,
  now = new Date(),
): CaStatus | null {
  if (!config.tls.inspect) return null;
  const ca = proxy.tls?.ca ?? null;
  const current = ca ? info(ca, now) : null;
  const problem = proxy.inspectionReady
    ? null
    : ca
      ? `the school CA expired on ${ca.notAfter.toISOString()}`
      : (loadProblem ?? 'no usable school CA');
  return {
    inspection: proxy.inspectionReady,
    problem,
    current,
    next: proxy.nextCa ? info(proxy.nextCa, now) : null,
    expiringSoon: current !== null && current.daysLeft < CA_EXPIRY_WARNING_DAYS,
  };
}

function info(ca: SchoolCa, now: Date): CaInfo {
  return {
    subject: ca.subject,
    fingerprint256: ca.fingerprint256,
    notBefore: ca.notBefore.toISOString(),
    notAfter: ca.notAfter.toISOString(),
    daysLeft: caDaysLeft(ca, now),
  };
}

function day(d: Date): string {
  return d.toISOString().slice(0, 10);
}
