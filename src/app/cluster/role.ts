/**
 * serve --workers N: what start.ts does differently in the cluster's primary (audit writer, control socket,
 * console, timers, alerts; no proxy of its own) and in a proxy worker (the proxy only; audit through the
 * primary). Absent: the single process of `--workers 1`, unchanged.
 */
import type { AddressInfo } from 'node:net';
import type { CommittedSource } from '../../alerts/engine.js';
import type { WorkerAuditStore } from '../../audit/index.js';
import type { AuditLogger } from '../../audit/index.js';
import type { ServingAuditStore } from '../../audit/serving-store.js';
import type { ProxyServer } from '../../proxy/server.js';
import type { ControlHandler } from '../control.js';

export type ControlHandlers = Record<string, ControlHandler>;

export interface PrimaryRole {
  role: 'primary';
  /**
   * Starts the workers once the audit store is open (SQLite's writer, or the PostgreSQL store); resolves
   * with the address they listen on.
   */
  listen(audit: ServingAuditStore): Promise<AddressInfo>;
  /** Rows committed in the workers: the alerts engine's source. */
  committed: CommittedSource;
  /** What the control socket answers: this process's handlers, with `status` summed and `reload` reaching every worker. */
  control(own: ControlHandlers): ControlHandlers;
  /** Stops every worker (their rows committed through the writer) before the writer closes. */
  stopWorkers(now: boolean): Promise<void>;
}

export interface WorkerRole {
  role: 'worker';
  /** The link to the primary's audit writer. */
  audit(logger: AuditLogger): Promise<WorkerAuditStore>;
  /** The proxy listens: tell the primary, answer its control commands, send it committed rows. */
  serving(
    proxy: ProxyServer,
    handlers: ControlHandlers,
    address: AddressInfo,
    audit: { healthy: boolean },
  ): void;
}

export type ClusterRole = PrimaryRole | WorkerRole;
