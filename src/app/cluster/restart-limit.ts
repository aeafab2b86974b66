/**
 * How many worker deaths a cluster's primary tolerates: more than `max` within a sliding `windowMs` is a
 * crash loop (a bad list, a full disk, a bug), and replacing workers for ever would hide it; the primary
 * gives up and the service fails, so systemd and the technician see a failed unit instead of a busy one.
 */
export interface RestartLimitOptions {
  /** Deaths tolerated within the window; one more is a crash loop. */
  max: number;
  windowMs: number;
  /** The clock (tests); Date.now by default. */
  now?: () => number;
}

export const WORKER_RESTART_LIMIT = { max: 5, windowMs: 60_000 } as const;

export class RestartLimit {
  /** When each death within the window happened, oldest first. */
  private readonly deaths: number[] = [];
  private readonly now: () => number;

  constructor(private readonly opts: RestartLimitOptions) {
    this.now = opts.now ?? Date.now;
  }

  /** Counts one death; true when the deaths within the window now exceed the limit (give up). */
  died(): boolean {
    const now = this.now();
    this.deaths.push(now);
    while (this.deaths[0]! <= now - this.opts.windowMs) this.deaths.shift();
    return this.deaths.length > this.opts.max;
  }

  /** Deaths within the window as of now. */
  get recent(): number {
    const now = this.now();
    return this.deaths.filter((t) => t > now - this.opts.windowMs).length;
  }
}
