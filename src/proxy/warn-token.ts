/**
 * Continue tokens for warn pages. When a person presses Continue, the proxy grants them the site until an
 * expiry; the grant is an HMAC-SHA256-signed token bound to the subject (the user, or the client address
 * for guests), the site (the registrable host the warning was for) and the expiry.
 *
 * Token format: base64url(JSON payload) + '.' + base64url(HMAC-SHA256(key, 'sg-warn-v1.' + payload part)).
 * The MAC is checked (in constant time) before the payload is parsed.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { chmodSync, closeSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { makePrivateDir } from '../app/file-modes.js';
import { SchoolgateError } from '../errors.js';
import { dateTimeFormat } from '../intl-format.js';

export const TOKEN_KEY_FILE = 'warn-token.key';
export const TOKEN_KEY_BYTES = 32;
/**
 * What a token is for, bound into its MAC: a Continue token is never accepted as an unblock-request token
 * (or the other way round), though both carry the same payload.
 */
export type TokenPurpose = 'warn' | 'unblock';
const MAC_CONTEXT: Record<TokenPurpose, string> = { warn: 'sg-warn-v1.', unblock: 'sg-unblock-v1.' };
/** Tokens longer than this are refused unread (a hostile form field must not cost much). */
const MAX_TOKEN_LENGTH = 4096;
const B64URL = /^[A-Za-z0-9_-]+$/;

export interface Grant {
  /** 'user:<name>' or 'ip:<address>': see grantSubject(). */
  subject: string;
  /** The registrable host the warning was for, e.g. 'youtube.com'. */
  site: string;
  expiresAt: Date;
}

export type VerifyResult =
  | { ok: true; expiresAt: Date }
  | { ok: false; reason: 'malformed' | 'bad-signature' | 'expired' | 'wrong-subject' | 'wrong-site' };

/** The subject a grant is bound to: the signed-in user, or for guests the client address. */
export function grantSubject(user: string | null, clientIp: string): string {
  return user !== null && user !== '' ? `user:${user}` : `ip:${clientIp}`;
}

function keyPath(dataDir: string): string {
  return join(dataDir, TOKEN_KEY_FILE);
}

function writeKeyFile(path: string, key: Buffer, exclusive: boolean): void {
  const fd = openSync(path, exclusive ? 'wx' : 'w', 0o600);
  try {
    writeSync(fd, key);
  } finally {
    closeSync(fd);
  }
  chmodSync(path, 0o600);
}

/**
 * Creates a new key in `<dataDir>/warn-token.key` (mode 0600), replacing any existing one atomically, and
 * returns it. Replacing the key invalidates every outstanding Continue grant.
 */
export function createTokenKey(dataDir: string): Buffer {
  makePrivateDir(dataDir);
  const key = randomBytes(TOKEN_KEY_BYTES);
  const path = keyPath(dataDir);
  const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  writeKeyFile(tmp, key, true);
  renameSync(tmp, path);
  return key;
}

/** Reads `<dataDir>/warn-token.key`, creating it (32 random bytes, mode 0600) if it does not exist. */
export function loadOrCreateTokenKey(dataDir: string): Buffer {
  const path = keyPath(dataDir);
  let key: Buffer;
  try {
    key = readFileSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new SchoolgateError('SG_CONFIG_INVALID', `The warn token key file ${path} cannot be read.`, {
        context: { file: path },
        suggestion: 'Check that the data directory and the key file are readable by the schoolgate user.',
        cause: err,
      });
    }
    makePrivateDir(dataDir);
    const fresh = randomBytes(TOKEN_KEY_BYTES);
    try {
      writeKeyFile(path, fresh, true);
      return fresh;
    } catch (createErr) {
      // Another process created it between our read and our create: use theirs.
      if ((createErr as NodeJS.ErrnoException).code !== 'EEXIST') throw createErr;
      key = readFileSync(path);
    }
  }
  if (key.length < TOKEN_KEY_BYTES) {
    throw new SchoolgateError(
      'SG_CONFIG_INVALID',
      `The warn token key file ${path} is too short (${key.length} bytes; at least ${TOKEN_KEY_BYTES} are needed).`,
      {
        context: { file: path },
        suggestion:
          'Delete the file; schoolgate creates a new key at the next start (outstanding Continue grants end).',
      },
    );
  }
  return key;
}

function mac(key: Buffer, payloadPart: string, purpose: TokenPurpose): Buffer {
  return createHmac('sha256', key).update(MAC_CONTEXT[purpose]).update(payloadPart).digest();
}

function normaliseSite(site: string): string {
  return site.trim().toLowerCase().replace(/\.$/, '');
}

/** Signs a grant. The token is safe to put in a form field or a cookie value. */
export function signGrant(key: Buffer, grant: Grant, purpose: TokenPurpose = 'warn'): string {
  if (typeof grant.subject !== 'string' || grant.subject.length === 0) {
    throw new TypeError('signGrant: subject must be a non-empty string');
  }
  const site = normaliseSite(String(grant.site));
  if (site.length === 0) throw new TypeError('signGrant: site must be a non-empty string');
  const exp = grant.expiresAt.getTime();
  if (!Number.isFinite(exp)) throw new TypeError('signGrant: expiresAt must be a valid Date');
  const payloadPart = Buffer.from(JSON.stringify({ v: 1, sub: grant.subject, site, exp }), 'utf8').toString(
    'base64url',
  );
  return `${payloadPart}.${mac(key, payloadPart, purpose).toString('base64url')}`;
}

interface Payload {
  v: 1;
  sub: string;
  site: string;
  exp: number;
}

function parsePayload(payloadPart: string): Payload | null {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(payloadPart, 'base64url').toString('utf8'));
  } catch {
    return null;
  }
  if (typeof value !== 'object' || value === null) return null;
  const p = value as Record<string, unknown>;
  if (p.v !== 1 || typeof p.sub !== 'string' || typeof p.site !== 'string' || typeof p.exp !== 'number') {
    return null;
  }
  if (!Number.isFinite(p.exp)) return null;
  return { v: 1, sub: p.sub, site: p.site, exp: p.exp };
}

/**
 * Checks a token for this subject and site at `now`. Order of checks: shape, signature (constant time),
 * payload, subject, site, expiry. The token expires at `expiresAt` exactly (now >= expiresAt is expired).
 */
export function verifyGrant(
  key: Buffer,
  token: unknown,
  expected: { subject: string; site: string; now: Date },
  purpose: TokenPurpose = 'warn',
): VerifyResult {
  if (typeof token !== 'string' || token.length === 0 || token.length > MAX_TOKEN_LENGTH) {
    return { ok: false, reason: 'malformed' };
  }
  const parts = token.split('.');
  if (parts.length !== 2) return { ok: false, reason: 'malformed' };
  const [payloadPart, macPart] = parts as [string, string];
  if (!B64URL.test(payloadPart) || !B64URL.test(macPart)) return { ok: false, reason: 'malformed' };
  const given = Buffer.from(macPart, 'base64url');
  const wanted = mac(key, payloadPart, purpose);
  if (given.length !== wanted.length || !timingSafeEqual(given, wanted)) {
    return { ok: false, reason: 'bad-signature' };
  }
  const payload = parsePayload(payloadPart);
  if (!payload) return { ok: false, reason: 'malformed' };
  if (payload.sub !== expected.subject) return { ok: false, reason: 'wrong-subject' };
  if (payload.site !== normaliseSite(expected.site)) return { ok: false, reason: 'wrong-site' };
  if (expected.now.getTime() >= payload.exp) return { ok: false, reason: 'expired' };
  return { ok: true, expiresAt: new Date(payload.exp) };
}

const HH_MM = /^([01]\d|2[0-3]):([0-5]\d)$/;

/** Milliseconds that the wall clock in `timeZone` is ahead of UTC at `instant`. */
function zoneOffsetMs(instant: number, timeZone: string): number {
  const parts = dateTimeFormat('en-GB', {
    timeZone,
    hourCycle: 'h23',
    year: 'numeric',
    month: 'numeric',
    day: 'numeric',
    hour: 'numeric',
    minute: 'numeric',
    second: 'numeric',
  }).formatToParts(new Date(instant));
  const get = (type: Intl.DateTimeFormatPartTypes): number =>
    Number(parts.find((p) => p.type === type)?.value ?? NaN);
  const wall = Date.UTC(get('year'), get('month') - 1, get('day'), get('hour'), get('minute'), get('second'));
  return wall - Math.floor(instant / 1000) * 1000;
}

/**
 * When a Continue permission given at `now` ends: `minutes` after now if configured, otherwise the end of
 * the school day (`schoolDayEnd`, 'HH:MM' in the school's time zone) today; if that has already passed,
 * one hour from now.
 */
export function grantUntil(
  now: Date,
  timeZone: string,
  options: { minutes?: number | undefined; schoolDayEnd: string },
): Date {
  if (options.minutes !== undefined) {
    if (!Number.isFinite(options.minutes) || options.minutes <= 0) {
      throw new SchoolgateError(
        'SG_CONFIG_INVALID',
        `The warn grant length ${options.minutes} minutes is not valid.`,
        {
          context: { minutes: options.minutes },
          suggestion:
            'Use a positive number of minutes, or leave it out to grant until the end of the school day.',
        },
      );
    }
    return new Date(now.getTime() + options.minutes * 60_000);
  }
  const m = HH_MM.exec(options.schoolDayEnd);
  if (!m) {
    throw new SchoolgateError(
      'SG_CONFIG_INVALID',
      `The school day end ${JSON.stringify(options.schoolDayEnd)} is not a time.`,
      {
        context: { schoolDayEnd: options.schoolDayEnd },
        suggestion: "Write it as 24-hour 'HH:MM', e.g. '15:30'.",
      },
    );
  }
  let offset: number;
  try {
    offset = zoneOffsetMs(now.getTime(), timeZone);
  } catch (err) {
    throw new SchoolgateError(
      'SG_CONFIG_INVALID',
      `The time zone ${JSON.stringify(timeZone)} is not known.`,
      {
        context: { timeZone },
        suggestion: "Use an IANA time zone name such as 'Europe/London'.",
        cause: err,
      },
    );
  }
  // Today's date on the school's wall clock, then that date at HH:MM, converted back to an instant.
  const local = new Date(now.getTime() + offset);
  const wallEnd = Date.UTC(
    local.getUTCFullYear(),
    local.getUTCMonth(),
    local.getUTCDate(),
    Number(m[1]),
    Number(m[2]),
  );
  let end = wallEnd - offset;
  // The offset at the end of the day may differ from now's (a clock change in between): correct once.
  end = wallEnd - zoneOffsetMs(end, timeZone);
  if (end <= now.getTime()) return new Date(now.getTime() + 60 * 60_000);
  return new Date(end);
}
