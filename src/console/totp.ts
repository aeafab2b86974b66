/**
 * The second factor: RFC 6238 TOTP (SHA-1, 6 digits, 30 s), what every authenticator app reads from an
 * otpauth:// URI. otpauth is a small, maintained, dependency-free implementation: the base32 secret, the
 * URI and the windowed check are easy to get subtly wrong by hand.
 */
import { Secret, TOTP } from 'otpauth';

export const TOTP_PERIOD_S = 30;

function totpOf(secretBase32: string, name: string): TOTP {
  return new TOTP({
    issuer: 'schoolgate console',
    label: name,
    algorithm: 'SHA1',
    digits: 6,
    period: TOTP_PERIOD_S,
    secret: Secret.fromBase32(secretBase32),
  });
}

/** A new random secret (160 bits, as RFC 4226 recommends), base32. */
export function newTotpSecret(): string {
  return new Secret({ size: 20 }).base32;
}

export function totpUri(secretBase32: string, name: string): string {
  return totpOf(secretBase32, name).toString();
}

/** The code for a moment (tests, and nothing else, make codes). */
export function totpCode(secretBase32: string, nowMs: number): string {
  return totpOf(secretBase32, 'x').generate({ timestamp: nowMs });
}

/**
 * The time step a code belongs to (one step either side allowed for clock drift), or null when it is wrong.
 * The caller refuses a step already used: a code seen over a shoulder cannot be used again.
 */
export function totpStep(secretBase32: string, code: string, nowMs: number): number | null {
  if (!/^\d{6}$/.test(code)) return null;
  const delta = totpOf(secretBase32, 'x').validate({ token: code, timestamp: nowMs, window: 1 });
  if (delta === null) return null;
  return Math.floor(nowMs / 1000 / TOTP_PERIOD_S) + delta;
}
