/**
 * What an exchange tells the rest of the proxy: `decided` (the verdict), `committed` (the audit row as
 * stored) and `completed` (the outcome). Subscribers (metrics, alerts, a second store) register at start-up.
 * A subscriber can never delay, fail or change a request: events are frozen, delivered after the current
 * turn of the event loop (the answer is already on its way), and a subscriber's error is caught, logged with
 * the exchange id and counted.
 */
import type { Logger } from 'pino';
import type { AuditEvent, AuditOutcome } from '../audit/types.js';
import type { Identity } from '../identity/identify-types.js';
import type { Decision, Target } from '../policy/types.js';
import type { Transport, VerdictKind } from './types.js';

/** Copies: the exchange goes on using its own target, identity and decision while subscribers run. */
export interface DecidedEvent {
  id: string;
  transport: Transport;
  target: Target;
  verdict: VerdictKind;
  identity: Identity | null;
  decision: Decision | null;
}

export interface CommittedEvent {
  row: AuditEvent;
  /** Time from handing the row to the store to its durable commit. */
  commitMs: number;
}

export interface CompletedEvent {
  id: string;
  outcome: AuditOutcome;
}

export interface ExchangeEventMap {
  decided: DecidedEvent;
  committed: CommittedEvent;
  completed: CompletedEvent;
}

export type ExchangeEventName = keyof ExchangeEventMap;
type Subscriber<K extends ExchangeEventName> = (event: Readonly<ExchangeEventMap[K]>) => void;

export class ExchangeEvents {
  private readonly subscribers: { [K in ExchangeEventName]: Subscriber<K>[] } = {
    decided: [],
    committed: [],
    completed: [],
  };
  private queue: (() => void)[] = [];
  private scheduled = false;
  /** Subscriber failures, for `status` and `/metrics`. */
  errors = 0;

  constructor(private readonly logger: Logger) {}

  on<K extends ExchangeEventName>(name: K, subscriber: Subscriber<K>): void {
    this.subscribers[name].push(subscriber);
  }

  /** True when someone listens: the exchange skips building an event nobody reads. */
  wants(name: ExchangeEventName): boolean {
    return this.subscribers[name].length > 0;
  }

  emit<K extends ExchangeEventName>(name: K, id: string, event: ExchangeEventMap[K]): void {
    const subscribers = this.subscribers[name];
    if (subscribers.length === 0) return;
    const frozen = freezeEvent(event);
    this.queue.push(() => {
      for (const subscriber of subscribers) {
        try {
          subscriber(frozen);
        } catch (err) {
          this.errors++;
          this.logger.error({ err, id, event: name }, 'exchange event subscriber failed');
        }
      }
    });
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.drain());
    }
  }

  private drain(): void {
    const queue = this.queue;
    this.queue = [];
    this.scheduled = false;
    for (const deliver of queue) deliver();
  }
}

/**
 * Freezes the event and the objects it holds (the row; the decided event's copies of target, identity and
 * decision). What the exchange still uses after emitting is never handed out: `decided` carries copies,
 * and a committed row is never read again by the request.
 */
function freezeEvent<T extends object>(value: T): T {
  for (const child of Object.values(value))
    if (child !== null && typeof child === 'object') Object.freeze(child);
  return Object.freeze(value);
}
