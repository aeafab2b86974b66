/**
 * The delivery queue behind the webhook and e-mail sinks: bounded, retrying, never blocking.
 *
 * `enqueue()` only pushes onto an array and schedules a pump on a later turn of the event loop, so the
 * caller (the alerts engine, itself a subscriber of the exchange's events) never waits on a network. Up
 * to `concurrency` attempts run at once; a failed one is retried after an exponential, jittered back-off
 * (half to all of initial × 2^(n-1), capped), and after `maxAttempts` — or at once for a permanent refusal
 * — the alert becomes a dead letter: counted, logged, gone. The queue holds at most `queueLimit` alerts
 * (in flight included); a new alert on a full queue pushes out the oldest one not in flight, so a receiver
 * that is down for a day costs a fixed amount of memory, and the loss is visible in the dead-letter count.
 */
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import type { Alert, SinkStats } from './types.js';

/** A failure that retrying cannot cure (an HTTP 4xx, an SMTP 5xx): dead-lettered without more attempts. */
export class PermanentDeliveryError extends Error {
  override readonly name = 'PermanentDeliveryError';
}

export interface RetryPolicy {
  maxAttempts: number;
  initialBackoffMs: number;
  maxBackoffMs: number;
  queueLimit: number;
}

export interface DeliveryEventMap {
  /** An alert was delivered (attempt number, 1-based). */
  delivered: [alert: Alert, attempt: number];
  /** An attempt failed and another is scheduled. */
  retry: [alert: Alert, attempt: number, delayMs: number, error: string];
  /** An alert was given up on. */
  'dead-letter': [alert: Alert, reason: string];
}

export interface DeliveryQueueOptions {
  /** 'webhook' or 'email', for the log. */
  sink: string;
  policy: RetryPolicy;
  logger: Logger;
  /** One attempt: resolves when delivered, rejects (PermanentDeliveryError for a refusal) otherwise. */
  deliver: (alert: Alert, attempt: number) => Promise<void>;
  /** A failure as a short, secret-free line. */
  describe: (err: unknown) => string;
  concurrency?: number;
  /** For tests of the jitter; Math.random by default. */
  random?: () => number;
}

interface Item {
  alert: Alert;
  attempts: number;
  state: 'ready' | 'waiting' | 'inflight';
  timer: NodeJS.Timeout | null;
}

/** The wait before retry number `attempt` (1 = after the first failure): jittered between half and all. */
export function backoffDelay(
  attempt: number,
  policy: RetryPolicy,
  random: () => number = Math.random,
): number {
  const full = Math.min(policy.maxBackoffMs, policy.initialBackoffMs * 2 ** Math.min(attempt - 1, 30));
  return Math.max(1, Math.round(full / 2 + random() * (full / 2)));
}

/** The alert fields a log line may carry: who and which rule, never the URL or the search term. */
export function alertLogFields(alert: Alert): Record<string, unknown> {
  return {
    alert: alert.id,
    severity: alert.severity,
    rule: alert.rule,
    test: alert.test === true || undefined,
  };
}

export class DeliveryQueue extends EventEmitter<DeliveryEventMap> {
  private readonly items: Item[] = [];
  private inflight = 0;
  private readonly settling = new Set<Promise<void>>();
  private pumpScheduled = false;
  private closed = false;
  private readonly concurrency: number;
  private readonly random: () => number;
  private counters = {
    delivered: 0,
    failedAttempts: 0,
    deadLetters: 0,
    lastError: null as string | null,
    lastErrorAt: null as number | null,
  };

  constructor(private readonly opts: DeliveryQueueOptions) {
    super();
    this.concurrency = Math.max(1, Math.min(opts.concurrency ?? 4, opts.policy.queueLimit));
    this.random = opts.random ?? Math.random;
  }

  /** Queues the alert; returns at once and never throws. */
  enqueue(alert: Alert): void {
    try {
      if (this.closed) {
        this.deadLetter(alert, 'sink closed');
        return;
      }
      if (this.items.length >= this.opts.policy.queueLimit) {
        const victim = this.items.findIndex((i) => i.state !== 'inflight');
        if (victim === -1) {
          this.deadLetter(alert, 'queue full');
          return;
        }
        const [old] = this.items.splice(victim, 1);
        if (old!.timer) clearTimeout(old!.timer);
        this.deadLetter(old!.alert, 'queue full: oldest waiting alert dropped');
      }
      this.items.push({ alert, attempts: 0, state: 'ready', timer: null });
      this.schedulePump();
    } catch (err) {
      // Nothing above should throw; if it does, the caller must still not see it.
      this.opts.logger.error({ sink: this.opts.sink, err: this.opts.describe(err) }, 'alert enqueue failed');
    }
  }

  stats(): SinkStats {
    return { queued: this.items.length, ...this.counters };
  }

  /**
   * Stops: no new attempts, timers cleared; waits up to `graceMs` for attempts in flight. Whatever is still
   * queued then is counted as dead letters (and logged): alerts do not survive a restart.
   */
  async close(graceMs = 5_000): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const item of this.items) if (item.timer) clearTimeout(item.timer);
    if (this.settling.size > 0) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        Promise.allSettled([...this.settling]),
        new Promise<void>((resolve) => (timer = setTimeout(resolve, graceMs))),
      ]);
      clearTimeout(timer);
    }
    const left = this.items.splice(0);
    for (const item of left) this.deadLetter(item.alert, 'not delivered before shutdown');
  }

  private schedulePump(): void {
    if (this.pumpScheduled || this.closed) return;
    this.pumpScheduled = true;
    setImmediate(() => {
      this.pumpScheduled = false;
      this.pump();
    });
  }

  private pump(): void {
    while (!this.closed && this.inflight < this.concurrency) {
      const item = this.items.find((i) => i.state === 'ready');
      if (!item) return;
      this.attempt(item);
    }
  }

  private attempt(item: Item): void {
    item.state = 'inflight';
    item.attempts += 1;
    this.inflight += 1;
    const attempt = item.attempts;
    const run = Promise.resolve()
      .then(() => this.opts.deliver(item.alert, attempt))
      .then(
        () => this.succeeded(item, attempt),
        (err: unknown) => this.failed(item, attempt, err),
      )
      .catch((err: unknown) => {
        this.opts.logger.error({ sink: this.opts.sink, err: this.opts.describe(err) }, 'alert delivery bug');
      })
      .finally(() => {
        this.inflight -= 1;
        this.settling.delete(run);
        this.pump();
      });
    this.settling.add(run);
  }

  private remove(item: Item): boolean {
    const i = this.items.indexOf(item);
    if (i === -1) return false; // dropped while in flight by close()
    this.items.splice(i, 1);
    return true;
  }

  private succeeded(item: Item, attempt: number): void {
    this.remove(item);
    this.counters.delivered += 1;
    this.opts.logger.debug(
      { sink: this.opts.sink, ...alertLogFields(item.alert), attempt },
      'alert delivered',
    );
    this.emit('delivered', item.alert, attempt);
  }

  private failed(item: Item, attempt: number, err: unknown): void {
    const reason = this.opts.describe(err);
    this.counters.failedAttempts += 1;
    this.counters.lastError = reason;
    this.counters.lastErrorAt = Date.now();
    const permanent = err instanceof PermanentDeliveryError;
    if (permanent || attempt >= this.opts.policy.maxAttempts || this.closed) {
      if (!this.remove(item)) return;
      this.deadLetter(
        item.alert,
        permanent ? `refused: ${reason}` : `${attempt} attempts failed, last: ${reason}`,
      );
      return;
    }
    const delayMs = backoffDelay(attempt, this.opts.policy, this.random);
    item.state = 'waiting';
    item.timer = setTimeout(() => {
      item.timer = null;
      item.state = 'ready';
      this.pump();
    }, delayMs);
    item.timer.unref();
    this.opts.logger.warn(
      {
        sink: this.opts.sink,
        ...alertLogFields(item.alert),
        attempt,
        maxAttempts: this.opts.policy.maxAttempts,
        retryInMs: delayMs,
        err: reason,
      },
      'alert delivery failed; will retry',
    );
    this.emit('retry', item.alert, attempt, delayMs, reason);
  }

  private deadLetter(alert: Alert, reason: string): void {
    this.counters.deadLetters += 1;
    this.opts.logger.error(
      { sink: this.opts.sink, ...alertLogFields(alert), reason, deadLetters: this.counters.deadLetters },
      'alert not delivered (dead letter)',
    );
    this.emit('dead-letter', alert, reason);
  }
}
