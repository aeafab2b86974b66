/**
 * serve --workers N on PostgreSQL: the primary's one PostgresAuditStore stands where the SQLite writer
 * thread stands, behind the same relay (audit-relay.ts) and the same messages (worker-protocol.ts). The
 * workers' rows are serialised into this node's one chain by the one store, exactly as on SQLite, and each
 * worker still answers a client only after the ack for its row (sent once the row's COMMIT returned).
 */
import { EventEmitter } from 'node:events';
import { SchoolgateError } from '../../errors.js';
import type { PostgresAuditStore } from '../../audit/postgres/store.js';
import { decodeBatch } from '../../audit/wire-batch.js';
import { errorToWire, type FromWorker, type Relayed, type ToWorker } from '../../audit/worker-protocol.js';
import type { WriterLink } from './audit-relay.js';

export class PgWriterLink extends EventEmitter implements WriterLink {
  constructor(private readonly store: PostgresAuditStore) {
    super();
  }

  /** What a worker gets on `audit-hello`: no SQLite file; the node's signing state; where the rows go. */
  ready(): Extract<FromWorker, { type: 'ready' }> {
    return { type: 'ready', opened: null, signing: this.store.signing, where: this.store.where };
  }

  postMessage(relayed: Relayed<ToWorker>): void {
    const via = relayed.via;
    void this.handle(relayed.m).then((m) => {
      if (m) this.emit('message', { via, m } satisfies Relayed<FromWorker>);
    });
  }

  private async handle(message: ToWorker): Promise<FromWorker | null> {
    const store = this.store;
    const acks = (batch: number, failed: Extract<FromWorker, { type: 'acks' }>['failed']): FromWorker => ({
      type: 'acks',
      batch,
      failed,
      healthy: store.healthy,
      queueDepth: store.queueDepth,
    });
    switch (message.type) {
      case 'batch': {
        let batch: ReturnType<typeof decodeBatch>;
        try {
          batch = decodeBatch(message.packed);
        } catch (err) {
          return { ...acks(message.batch, []), error: errorToWire(err) } as FromWorker;
        }
        for (const u of batch.updates) store.complete(u.id, u.outcome);
        if (batch.records.length === 0) return null; // outcomes alone: nobody waits for them
        const results = await Promise.all(
          batch.records.map((event, index) =>
            store.record(event).then(
              () => null,
              (err: unknown) => ({ index, error: errorToWire(err) }),
            ),
          ),
        );
        return acks(
          message.batch,
          results.filter((r) => r !== null),
        );
      }
      case 'alert':
        return store.writeAlert(message.alert).then(
          () => ({ type: 'alert-done', seq: message.seq }),
          (err: unknown) => ({ type: 'alert-done', seq: message.seq, error: errorToWire(err) }),
        );
      case 'recent-alerts':
        return store.recentAlerts(message.since).then(
          (alerts) => ({ type: 'alert-done', seq: message.seq, alerts }),
          (err: unknown) => ({ type: 'alert-done', seq: message.seq, error: errorToWire(err) }),
        );
      case 'access':
        // Report access rows are SQLite's (reports on PostgreSQL are not built yet): refused, not dropped.
        return {
          type: 'access-done',
          seq: message.seq,
          error: errorToWire(
            new SchoolgateError('SG_AUDIT_UNAVAILABLE', 'report access rows are not kept on PostgreSQL yet'),
          ),
        };
      default:
        return null; // 'close': the store is the primary's to close
    }
  }
}
