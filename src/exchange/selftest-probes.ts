/**
 * Self-test runs the proxy knows about. `schoolgate selftest` asks the control socket (owner-only) to begin
 * a run and gets a secret token; its probes carry the token in the `X-Schoolgate-Selftest` header, and the
 * proxy marks their audit rows with the run id (audit column selftest_run), so reports, reviews and alerts
 * leave them out instead of showing adult or self-harm "attempts" under "(no user)".
 *
 * The token, not the header, is the proof: a pupil who sends the header with any other value gets an
 * ordinary row, so nobody can hide their own traffic from the record. Tokens are looked up by their hash
 * (a lookup's timing says nothing about the token), and only a few runs are open at once: a selftest that
 * crashed before ending its run is forgotten once newer runs begin.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';

export const SELFTEST_HEADER = 'x-schoolgate-selftest';
/** Runs open at once; the oldest is forgotten beyond this. */
export const MAX_OPEN_RUNS = 4;

function digest(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

export class SelftestProbes {
  /** Token hash → run id, oldest first. */
  private readonly open = new Map<string, string>();

  /** A new run: its id (stored on the rows) and the token its probes send. */
  begin(): { run: string; token: string } {
    const opened = { run: randomUUID(), token: randomBytes(32).toString('base64url') };
    this.adopt(opened);
    return opened;
  }

  /** Opens a run begun elsewhere: serve --workers N, where the primary begins it and each worker adopts it. */
  adopt({ run, token }: { run: string; token: string }): void {
    this.open.set(digest(token), run);
    while (this.open.size > MAX_OPEN_RUNS) this.open.delete(this.open.keys().next().value!);
  }

  /** Ends the run of this token; its probes are ordinary requests from now on. */
  end(token: string): boolean {
    return this.open.delete(digest(token));
  }

  /** The run a request's header value belongs to, or null (no header, an unknown or ended token). */
  runOf(token: string | undefined): string | null {
    if (!token || token.length > 128) return null;
    return this.open.get(digest(token)) ?? null;
  }
}
