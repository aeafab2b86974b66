/** What a cluster's primary and its proxy workers say over the IPC channel (serve --workers N). */
import type { AddressInfo } from 'node:net';
import type { FromWorker, ToWorker } from '../../audit/worker-protocol.js';
import type { AuditEvent } from '../../audit/types.js';

export type FromProxyWorker =
  /** Asks for the writer's `ready` (sent once the worker's own start reaches the audit store). */
  | { sg: 'audit-hello' }
  /** A message for the audit writer, relayed as-is. */
  | { sg: 'audit'; m: ToWorker }
  /** The worker's proxy listens: it takes requests from now on. */
  | { sg: 'listening'; address: AddressInfo }
  /** Rows committed in this worker, for the primary's alerts engine (one message per event-loop turn). */
  | { sg: 'committed'; rows: AuditEvent[] }
  | { sg: 'control-reply'; id: number; ok: true; result: unknown }
  | { sg: 'control-reply'; id: number; ok: false; error: { code: string | null; message: string } };

export type ToProxyWorker =
  | { sg: 'audit'; m: FromWorker }
  /** The audit writer stopped: the worker's store fails closed (every request 503). */
  | { sg: 'audit-gone'; message: string }
  /** A control command (`reload`, `status`, `users-changed`) for this worker's own handlers. */
  | { sg: 'control'; id: number; cmd: string; args: Record<string, unknown> }
  /** Stop: let open exchanges finish (now: cut them), commit, exit. */
  | { sg: 'stop'; now: boolean };

/** One of ours (cluster's own internal messages and anything else on the channel are not). */
function isTagged(raw: unknown): boolean {
  return typeof raw === 'object' && raw !== null && typeof (raw as { sg?: unknown }).sg === 'string';
}

export const isFromProxyWorker = isTagged as (raw: unknown) => raw is FromProxyWorker;
export const isToProxyWorker = isTagged as (raw: unknown) => raw is ToProxyWorker;
