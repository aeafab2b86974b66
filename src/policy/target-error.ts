import { SchoolgateError } from '../errors.js';

/**
 * Why a request target (URL, CONNECT authority, host) was refused. The proxy answers 400 and writes the
 * reason into the audit row, so these strings are stable: add new ones, never rename.
 */
export type TargetErrorReason =
  | 'empty'
  | 'empty-label'
  | 'bad-host'
  | 'bad-idn'
  | 'bad-ip'
  | 'bad-percent'
  | 'too-long'
  | 'userinfo'
  | 'bad-port'
  | 'no-port'
  | 'bad-scheme'
  | 'bad-url';

export class TargetError extends SchoolgateError {
  readonly reason: TargetErrorReason;

  constructor(reason: TargetErrorReason, input: string, detail: string) {
    super('SG_TARGET_INVALID', `Request target ${JSON.stringify(truncate(input))} is invalid: ${detail}`, {
      context: { reason, input: truncate(input) },
      suggestion: 'The client sent a malformed address; it is refused with 400 and logged.',
    });
    this.name = 'TargetError';
    this.reason = reason;
  }
}

export function isTargetError(err: unknown): err is TargetError {
  return err instanceof TargetError;
}

// Hostile inputs can be 64 KB long; keep messages and audit context readable.
function truncate(s: string): string {
  return s.length > 200 ? `${s.slice(0, 200)}…` : s;
}
