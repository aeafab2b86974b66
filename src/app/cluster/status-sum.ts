/** `status` of a cluster: the primary's report with the workers' traffic summed and one line per worker. */
import type { ClusterWorkerStatus } from '../status.js';

/** One worker's answer to `status` (worker.ts adds its memory and audit link health). */
export type WorkerReport =
  | {
      pid: number;
      ok: true;
      result: {
        requests: number;
        connections: number;
        openTunnels: number;
        requestsPerSecond: number;
        auditQueueDepth: number;
        rssBytes: number;
        heapUsedBytes: number;
        auditHealthy: boolean;
      };
    }
  | { pid: number; ok: false; error: string };

const SUMMED = ['requests', 'connections', 'openTunnels', 'requestsPerSecond', 'auditQueueDepth'] as const;

export function sumWorkerStatus(
  own: Record<string, unknown>,
  reports: readonly WorkerReport[],
  restarts: number,
): Record<string, unknown> {
  const summed: Record<string, unknown> = { ...own };
  for (const key of SUMMED) {
    let total = key === 'auditQueueDepth' ? Number(own[key] ?? 0) : 0;
    for (const r of reports) if (r.ok) total += r.result[key];
    summed[key] = key === 'requestsPerSecond' ? Math.round(total * 10) / 10 : total;
  }
  const workers: ClusterWorkerStatus[] = reports.map((r) =>
    r.ok
      ? {
          pid: r.pid,
          healthy: r.result.auditHealthy,
          requests: r.result.requests,
          connections: r.result.connections,
          rssBytes: r.result.rssBytes,
          heapUsedBytes: r.result.heapUsedBytes,
          error: null,
        }
      : {
          pid: r.pid,
          healthy: false,
          requests: 0,
          connections: 0,
          rssBytes: 0,
          heapUsedBytes: 0,
          error: r.error,
        },
  );
  return { ...summed, workers, workerRestarts: restarts };
}
