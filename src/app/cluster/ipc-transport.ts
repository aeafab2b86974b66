/**
 * A proxy worker's link to the one audit writer: the cluster IPC channel to the primary, which relays each
 * message to its writer thread and the answers back (audit-relay.ts). The channel closing (the primary
 * died) is the writer gone: the store fails closed.
 */
import type { AuditTransport } from '../../audit/transport.js';
import { WorkerAuditStore, type AuditLogger } from '../../audit/index.js';
import { isToProxyWorker, type FromProxyWorker } from './messages.js';

export function ipcTransport(): AuditTransport {
  const send = (message: FromProxyWorker, onError: (err: Error) => void) => {
    if (!process.connected) return onError(new Error('the primary process is gone'));
    process.send!(message, undefined, undefined, (err: Error | null) => {
      if (err) onError(err);
    });
  };
  const goneListeners: ((err: Error) => void)[] = [];
  const gone = (err: Error) => {
    for (const listener of goneListeners.splice(0)) listener(err);
  };
  process.on('message', (raw: unknown) => {
    if (isToProxyWorker(raw) && raw.sg === 'audit-gone') gone(new Error(raw.message));
  });
  process.once('disconnect', () => gone(new Error('the primary process is gone')));
  const transport: AuditTransport = {
    post: (m) => send({ sg: 'audit', m }, gone),
    onMessage(listener) {
      const onRaw = (raw: unknown) => {
        if (isToProxyWorker(raw) && raw.sg === 'audit') listener(raw.m);
      };
      process.on('message', onRaw);
      return () => void process.off('message', onRaw);
    },
    onGone: (listener) => void goneListeners.push(listener),
    // The writer is the primary's: it stays open for the other workers.
    close: () => Promise.resolve(undefined),
    abandon: () => undefined,
  };
  return transport;
}

/** The worker's audit store: its link to the primary's writer, once the primary says the writer is ready. */
export function connectToPrimaryWriter(logger: AuditLogger): Promise<WorkerAuditStore> {
  const connected = WorkerAuditStore.connect(ipcTransport(), logger);
  process.send!({ sg: 'audit-hello' } satisfies FromProxyWorker);
  return connected;
}
