/**
 * Whether the writer can sign checkpoints (checkpoints.ts). A key that cannot be read or used, or a
 * checkpoint that cannot be appended, never stops rows being committed; it is shown instead, by `status`
 * and /healthz, until a checkpoint is signed again.
 */
export type SigningState =
  { state: 'ok' } | { state: 'failing'; code: 'SG_AUDIT_SIGNING_FAILED'; message: string; sinceMs: number };

export const SIGNING_OK: SigningState = Object.freeze({ state: 'ok' });

/** The failing state, keeping the time of the first failure while it lasts. */
export function signingFailed(previous: SigningState, message: string, nowMs: number): SigningState {
  return {
    state: 'failing',
    code: 'SG_AUDIT_SIGNING_FAILED',
    message,
    sinceMs: previous.state === 'failing' ? previous.sinceMs : nowMs,
  };
}
