import { createHmac } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isSchoolgateError, SchoolgateError } from '../../../src/errors.js';
import {
  createTokenKey,
  grantSubject,
  grantUntil,
  loadOrCreateTokenKey,
  signGrant,
  TOKEN_KEY_FILE,
  verifyGrant,
} from '../../../src/proxy/warn-token.js';

const key = Buffer.alloc(32, 7);
const otherKey = Buffer.alloc(32, 8);
const now = new Date('2026-03-02T10:00:00Z');
const expiresAt = new Date('2026-03-02T15:30:00Z');
const subject = grantSubject('jsmith', '10.0.0.5');
const site = 'youtube.com';
const token = signGrant(key, { subject, site, expiresAt });

/** Flips one character of a base64url string to another valid one. */
function flip(part: string, at: number): string {
  const c = part[at] === 'A' ? 'B' : 'A';
  return part.slice(0, at) + c + part.slice(at + 1);
}

const [payloadPart = '', macPart = ''] = token.split('.');
const forgedPayload = Buffer.from(
  JSON.stringify({ v: 1, sub: 'user:jsmith', site, exp: Date.parse('2099-01-01T00:00:00Z') }),
).toString('base64url');

describe('verifyGrant', () => {
  it.each([
    ['valid', token, { subject, site, now }, { ok: true, expiresAt }],
    [
      'valid for the site written in another case',
      token,
      { subject, site: 'YouTube.com.', now },
      { ok: true, expiresAt },
    ],
    [
      'tampered payload',
      `${flip(payloadPart, 5)}.${macPart}`,
      { subject, site, now },
      { ok: false, reason: 'bad-signature' },
    ],
    [
      'forged payload with the old mac',
      `${forgedPayload}.${macPart}`,
      { subject, site, now },
      { ok: false, reason: 'bad-signature' },
    ],
    [
      'tampered mac',
      `${payloadPart}.${flip(macPart, 3)}`,
      { subject, site, now },
      { ok: false, reason: 'bad-signature' },
    ],
    [
      'truncated mac',
      `${payloadPart}.${macPart.slice(0, 20)}`,
      { subject, site, now },
      { ok: false, reason: 'bad-signature' },
    ],
    [
      'signed with another key',
      signGrant(otherKey, { subject, site, expiresAt }),
      { subject, site, now },
      { ok: false, reason: 'bad-signature' },
    ],
    [
      'other user',
      token,
      { subject: grantSubject('other', '10.0.0.5'), site, now },
      { ok: false, reason: 'wrong-subject' },
    ],
    [
      'guest at the same address',
      token,
      { subject: grantSubject(null, '10.0.0.5'), site, now },
      { ok: false, reason: 'wrong-subject' },
    ],
    ['other site', token, { subject, site: 'vimeo.com', now }, { ok: false, reason: 'wrong-site' }],
    [
      'subdomain is another site',
      token,
      { subject, site: 'm.youtube.com', now },
      { ok: false, reason: 'wrong-site' },
    ],
    [
      'expired',
      token,
      { subject, site, now: new Date('2026-03-02T15:30:00.001Z') },
      { ok: false, reason: 'expired' },
    ],
    [
      'expired at exactly expiresAt',
      token,
      { subject, site, now: expiresAt },
      { ok: false, reason: 'expired' },
    ],
    ['empty', '', { subject, site, now }, { ok: false, reason: 'malformed' }],
    ['no dot', 'abcdef', { subject, site, now }, { ok: false, reason: 'malformed' }],
    ['three parts', `${token}.x`, { subject, site, now }, { ok: false, reason: 'malformed' }],
    [
      'not base64url',
      `${payloadPart}.${macPart}=`,
      { subject, site, now },
      { ok: false, reason: 'malformed' },
    ],
    ['html in token', '<script>.x', { subject, site, now }, { ok: false, reason: 'malformed' }],
    ['huge', `${'A'.repeat(10_000)}.${macPart}`, { subject, site, now }, { ok: false, reason: 'malformed' }],
    ['not a string', 42, { subject, site, now }, { ok: false, reason: 'malformed' }],
  ])('%s', (_name, input, expected, result) => {
    expect(verifyGrant(key, input, expected)).toEqual(result);
  });

  it.each([
    ['not JSON', Buffer.from('not json').toString('base64url')],
    ['no expiry', Buffer.from(JSON.stringify({ v: 1, sub: subject, site })).toString('base64url')],
    [
      'another version',
      Buffer.from(JSON.stringify({ v: 2, sub: subject, site, exp: 9e12 })).toString('base64url'),
    ],
  ])('reports a correctly signed payload that is %s as malformed', (_name, part) => {
    const mac = createHmac('sha256', key).update('sg-warn-v1.').update(part).digest('base64url');
    expect(verifyGrant(key, `${part}.${mac}`, { subject, site, now })).toEqual({
      ok: false,
      reason: 'malformed',
    });
  });

  it('binds guests to their client address', () => {
    const guest = signGrant(key, { subject: grantSubject(null, '10.0.0.9'), site, expiresAt });
    expect(verifyGrant(key, guest, { subject: 'ip:10.0.0.9', site, now }).ok).toBe(true);
    expect(verifyGrant(key, guest, { subject: 'ip:10.0.0.10', site, now })).toEqual({
      ok: false,
      reason: 'wrong-subject',
    });
  });

  it('refuses to sign a grant without subject, site or a valid expiry', () => {
    expect(() => signGrant(key, { subject: '', site, expiresAt })).toThrow(TypeError);
    expect(() => signGrant(key, { subject, site: ' ', expiresAt })).toThrow(TypeError);
    expect(() => signGrant(key, { subject, site, expiresAt: new Date(NaN) })).toThrow(TypeError);
  });
});

describe('token key file', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'sg-warn-key-'));
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('is created with 32 random bytes and mode 0600, and reused across loads', () => {
    const dataDir = join(dir, 'data');
    const first = loadOrCreateTokenKey(dataDir);
    const file = join(dataDir, TOKEN_KEY_FILE);
    expect(first.length).toBe(32);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readFileSync(file).equals(first)).toBe(true);
    const second = loadOrCreateTokenKey(dataDir);
    expect(second.equals(first)).toBe(true);
    const t = signGrant(first, { subject, site, expiresAt });
    expect(verifyGrant(second, t, { subject, site, now }).ok).toBe(true);
  });

  it('createTokenKey replaces the key (mode 0600), which ends old grants', () => {
    const first = loadOrCreateTokenKey(dir);
    const t = signGrant(first, { subject, site, expiresAt });
    const rotated = createTokenKey(dir);
    expect(rotated.equals(first)).toBe(false);
    expect(statSync(join(dir, TOKEN_KEY_FILE)).mode & 0o777).toBe(0o600);
    expect(loadOrCreateTokenKey(dir).equals(rotated)).toBe(true);
    expect(verifyGrant(rotated, t, { subject, site, now })).toEqual({ ok: false, reason: 'bad-signature' });
  });

  it('refuses a key file shorter than 32 bytes with SG_CONFIG_INVALID naming the file', () => {
    const file = join(dir, TOKEN_KEY_FILE);
    writeFileSync(file, Buffer.alloc(16, 1), { mode: 0o600 });
    let caught: unknown;
    try {
      loadOrCreateTokenKey(dir);
    } catch (err) {
      caught = err;
    }
    expect(isSchoolgateError(caught)).toBe(true);
    const err = caught as SchoolgateError;
    expect(err.code).toBe('SG_CONFIG_INVALID');
    expect(err.context).toEqual({ file });
    expect(err.suggestion).toMatch(/Delete the file/);
  });
});

describe('grantUntil', () => {
  const end = { schoolDayEnd: '15:30' };
  it.each([
    [
      'configured minutes',
      '2026-03-02T10:00:00Z',
      { minutes: 45, schoolDayEnd: '15:30' },
      '2026-03-02T10:45:00.000Z',
    ],
    ['end of the school day in winter (GMT)', '2026-03-02T10:00:00Z', end, '2026-03-02T15:30:00.000Z'],
    ['end of the school day in summer (BST)', '2026-07-02T10:00:00Z', end, '2026-07-02T14:30:00.000Z'],
    ['one hour when the school day is over', '2026-03-02T16:00:00Z', end, '2026-03-02T17:00:00.000Z'],
    ['one hour at exactly the end of the day', '2026-03-02T15:30:00Z', end, '2026-03-02T16:30:00.000Z'],
    ['the clocks went forward this morning', '2026-03-29T09:00:00Z', end, '2026-03-29T14:30:00.000Z'],
    ['the clocks go back tonight: still today', '2026-10-25T00:30:00Z', end, '2026-10-25T15:30:00.000Z'],
    ['just after local midnight in summer', '2026-07-01T23:30:00Z', end, '2026-07-02T14:30:00.000Z'],
  ])('%s', (_name, at, options, expected) => {
    expect(grantUntil(new Date(at), 'Europe/London', options).toISOString()).toBe(expected);
  });

  it('reads the school day end in other time zones', () => {
    expect(grantUntil(new Date('2026-03-02T10:00:00Z'), 'America/New_York', end).toISOString()).toBe(
      '2026-03-02T20:30:00.000Z',
    );
  });

  it.each([
    ['bad HH:MM', 'Europe/London', { schoolDayEnd: '25:00' }],
    ['bad zone', 'Mars/Olympus', { schoolDayEnd: '15:30' }],
    ['zero minutes', 'Europe/London', { minutes: 0, schoolDayEnd: '15:30' }],
  ])('rejects %s with SG_CONFIG_INVALID', (_name, zone, options) => {
    expect(() => grantUntil(now, zone, options)).toThrow(SchoolgateError);
  });
});
