/**
 * Prometheus metrics for the technician (`GET /metrics` on the proxy port, admin networks only): what the
 * proxy decided, how fast the audit log commits, how busy it is, and whether the last reload worked.
 *
 * A subscriber of the exchange events (src/exchange/events.ts), so it never delays a request: counters move
 * after the answer went out, with label values read off the committed row. Everything else (queue depth,
 * connections, tunnels, certificate cache, reloads) is read when scraped. Each proxy gets its own registry
 * (several proxies in one test process never collide); the Node process metrics are process-wide, collected
 * once and shared by every registry.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { AlertsStats } from '../alerts/engine.js';
import type { SinkStats } from '../alerts/sinks/index.js';
import type { ExchangeEventMap, ExchangeEventName } from '../exchange/events.js';

/** The part of ExchangeEvents the metrics read. */
export interface MetricsEvents {
  on<K extends ExchangeEventName>(name: K, subscriber: (event: Readonly<ExchangeEventMap[K]>) => void): void;
  /** Subscriber failures so far. */
  readonly errors: number;
}

/** The leaf certificate cache's counters (src/tls/leaf.ts). */
export interface LeafCounters {
  readonly hits: number;
  readonly misses: number;
  readonly signed: number;
  readonly cachedHosts: number;
}

/** The reloader's record (src/app/reload.ts, Reloader.history). */
export interface ReloadCounters {
  readonly reloads: number;
  readonly failures: number;
  readonly lastError: string | null;
}

export interface MetricsDeps {
  events: MetricsEvents;
  stats: { readonly openTunnels: number };
  auditQueueDepth: () => number;
  /** The proxy port's server: its open client connections. */
  server: { getConnections(callback: (err: Error | null, count: number) => void): void };
  /** The leaf certificates of HTTPS inspection, or null when inspection is off. */
  leaves: LeafCounters | null;
  /** The reloader's record, or null before it exists (start-up). */
  reloads: () => ReloadCounters | null;
  /** When the config and lists in force were loaded (start-up or last good reload), epoch ms. */
  loadedAt: () => number;
  /** The alerts engine's and sinks' counters, when alerts run. */
  alerts?: () => AlertsSnapshot;
  /** The school CA, read when scraped; null (or absent) when HTTPS inspection is off. */
  ca?: () => CaSnapshot | null;
}

/** The school CA as /metrics shows it: ISO dates of the signing and the staged next CA. */
export interface CaSnapshot {
  /** Inspected profiles' HTTPS can be inspected now (a CA that signs and has not expired). */
  available: boolean;
  current: string | undefined;
  next: string | undefined;
}

export interface AlertsSnapshot {
  engine: Readonly<AlertsStats>;
  sinks: Record<string, SinkStats>;
}

export interface Metrics {
  readonly registry: Registry;
  readonly contentType: string;
  /** The exposition text of every metric. */
  render(): Promise<string>;
}

/** Commit latency buckets, seconds: a group commit with fsync is a few ms; over a second the disk struggles. */
const COMMIT_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

let processRegistry: Registry | undefined;

/** Node process metrics (CPU, memory, event loop lag, GC), registered once per process. */
function processMetrics(): Registry {
  if (!processRegistry) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry });
  }
  return processRegistry;
}

export function startMetrics(deps: MetricsDeps): Metrics {
  // Per request only a map increment; prom-client's label hashing happens once per series per scrape.
  const requestTally = new Tally<'action' | 'kind' | 'profile'>();
  const categoryTally = new Tally<'category' | 'action'>();
  const own = new Registry();
  const registers = [own];

  new Counter({
    name: 'schoolgate_requests_total',
    help:
      'Requests decided and recorded in the audit log, by action (allow, block, warn, ...), kind ' +
      '(request = plain HTTP, tunnel = HTTPS CONNECT, inspected = a request inside an inspected tunnel) and ' +
      'profile (none = not identified).',
    labelNames: ['action', 'kind', 'profile'] as const,
    registers,
    collect() {
      requestTally.flushInto(this);
    },
  });
  new Counter({
    name: 'schoolgate_category_decisions_total',
    help:
      'Recorded requests whose site matched a category, by category and action ' +
      '(a site in two categories counts in both).',
    labelNames: ['category', 'action'] as const,
    registers,
    collect() {
      categoryTally.flushInto(this);
    },
  });
  const commit = new Histogram({
    name: 'schoolgate_audit_commit_seconds',
    help:
      'Time to commit an audit row to disk; the client waits for it before its answer. ' +
      'Rising values mean a slow or busy disk.',
    buckets: COMMIT_BUCKETS,
    registers,
  });
  const bytes = new Counter({
    name: 'schoolgate_client_bytes_total',
    help:
      'Body bytes of finished requests, as in the audit log\'s bytes columns: direction="in" ' +
      'request bodies from clients (uploads), direction="out" response bodies to them (downloads).',
    labelNames: ['direction'] as const,
    registers,
  });
  // Both series from the first scrape, so a graph of them starts at zero rather than at the first request.
  // The labelled children, looked up once: a label lookup per request hashes the labels object each time.
  const bytesIn = bytes.labels({ direction: 'in' });
  const bytesOut = bytes.labels({ direction: 'out' });
  bytesIn.inc(0);
  bytesOut.inc(0);

  new Gauge({
    name: 'schoolgate_audit_queue_rows',
    help: 'Audit rows waiting for the next commit. Staying high means the disk cannot keep up.',
    registers,
    collect() {
      this.set(deps.auditQueueDepth());
    },
  });
  new Gauge({
    name: 'schoolgate_open_connections',
    help: 'Client connections open on the proxy port now.',
    registers,
    async collect() {
      this.set(
        await new Promise<number>((resolve) => deps.server.getConnections((err, n) => resolve(err ? 0 : n))),
      );
    },
  });
  new Gauge({
    name: 'schoolgate_open_tunnels',
    help: 'HTTPS (CONNECT) tunnels open now, inspected or not.',
    registers,
    collect() {
      this.set(deps.stats.openTunnels);
    },
  });
  mirrorCounter(
    registers,
    'schoolgate_tls_leaf_cache_hits_total',
    'HTTPS inspection: site certificates found in the cache (0 while inspection is off).',
    () => deps.leaves?.hits ?? 0,
  );
  mirrorCounter(
    registers,
    'schoolgate_tls_leaf_cache_misses_total',
    'HTTPS inspection: site certificates not in the cache, so signed (or being signed) for the request.',
    () => deps.leaves?.misses ?? 0,
  );
  mirrorCounter(
    registers,
    'schoolgate_tls_leaf_certificates_signed_total',
    'HTTPS inspection: site certificates signed by the school CA since start.',
    () => deps.leaves?.signed ?? 0,
  );
  new Gauge({
    name: 'schoolgate_tls_leaf_cache_entries',
    help: 'HTTPS inspection: site certificates held in the cache now.',
    registers,
    collect() {
      this.set(deps.leaves?.cachedHosts ?? 0);
    },
  });
  new Counter({
    name: 'schoolgate_reloads_total',
    help:
      'Reloads of config and lists (schoolgate reload, SIGHUP, list edits) by result: ok, or failed ' +
      '(the old lists kept serving; the log and `schoolgate status` name the broken file).',
    labelNames: ['result'] as const,
    registers,
    collect() {
      const h = deps.reloads();
      this.reset();
      this.inc({ result: 'ok' }, h?.reloads ?? 0);
      this.inc({ result: 'failed' }, h?.failures ?? 0);
    },
  });
  new Gauge({
    name: 'schoolgate_last_reload_successful',
    help: '1 when the last reload (or the start-up load) succeeded, 0 when it failed.',
    registers,
    collect() {
      this.set(deps.reloads()?.lastError ? 0 : 1);
    },
  });
  new Gauge({
    name: 'schoolgate_last_reload_success_timestamp_seconds',
    help: 'When the config and lists in force were loaded (start-up or last successful reload), Unix time.',
    registers,
    collect() {
      this.set(deps.loadedAt() / 1000);
    },
  });
  mirrorCounter(
    registers,
    'schoolgate_event_subscriber_errors_total',
    'Failures inside event subscribers (metrics, alerts). Requests are never affected; the log has details.',
    () => deps.events.errors,
  );

  if (deps.alerts) registerAlertMetrics(registers, deps.alerts);
  registerCaMetrics(registers, deps.ca ?? (() => null));

  // The hot path: after the answer went out, a few counter increments with labels from the row.
  deps.events.on('committed', ({ row, commitMs }) => {
    const kind = row.kind ?? 'request';
    const profile = row.profile ?? 'none';
    requestTally.add(`${row.action}\u0000${kind}\u0000${profile}`, () => ({
      action: row.action,
      kind,
      profile,
    }));
    for (const category of row.categories)
      categoryTally.add(`${category}\u0000${row.action}`, () => ({ category, action: row.action }));
    commit.observe(commitMs / 1000);
  });
  deps.events.on('completed', ({ outcome }) => {
    if (outcome.bytesIn > 0) bytesIn.inc(outcome.bytesIn);
    if (outcome.bytesOut > 0) bytesOut.inc(outcome.bytesOut);
  });

  const registry = Registry.merge([processMetrics(), own]);
  return { registry, contentType: registry.contentType, render: () => registry.metrics() };
}

/** The school CA's expiry (an alert rule can fire 30 days ahead) and whether inspection can run at all. */
function registerCaMetrics(registers: Registry[], ca: () => CaSnapshot | null): void {
  new Gauge({
    name: 'schoolgate_ca_expiry_timestamp_seconds',
    help:
      'When the school CA ends, Unix time: ca="current" signs now, ca="next" is staged by `schoolgate ca ' +
      'renew` for devices to install (absent when none). Renew well before: inspected HTTPS is refused after.',
    labelNames: ['ca'] as const,
    registers,
    collect() {
      this.reset();
      const s = ca();
      if (s?.current) this.set({ ca: 'current' }, Date.parse(s.current) / 1000);
      if (s?.next) this.set({ ca: 'next' }, Date.parse(s.next) / 1000);
    },
  });
  new Gauge({
    name: 'schoolgate_inspection_available',
    help:
      '1 when HTTPS inspection can run (tls.inspect on and a school CA that signs and has not expired); 0 ' +
      'otherwise. With tls.inspect on, 0 means inspected profiles get HTTPS refused (SG_CA_UNUSABLE).',
    registers,
    collect() {
      this.set(ca()?.available ? 1 : 0);
    },
  });
}

/** Counts per label set kept in a plain map, handed to a prom-client counter when it is scraped. */
class Tally<L extends string> {
  private readonly counts = new Map<string, { labels: Record<L, string>; pending: number }>();

  add(key: string, labels: () => Record<L, string>): void {
    const entry = this.counts.get(key);
    if (entry) entry.pending++;
    else this.counts.set(key, { labels: labels(), pending: 1 });
  }

  flushInto(counter: { inc(labels: Record<L, string>, value: number): void }): void {
    for (const entry of this.counts.values()) {
      if (entry.pending === 0) continue;
      counter.inc(entry.labels, entry.pending);
      entry.pending = 0;
    }
  }
}

/** A counter whose value is kept elsewhere (a plain number field) and read when scraped. */
function mirrorCounter(registers: Registry[], name: string, help: string, value: () => number): void {
  new Counter({
    name,
    help,
    registers,
    collect() {
      this.reset();
      this.inc(value());
    },
  });
}

/** Alerts raised, counts, store failures and each sink's deliveries and dead letters (read when scraped). */
function registerAlertMetrics(registers: Registry[], read: () => AlertsSnapshot): void {
  new Counter({
    name: 'schoolgate_alerts_raised_total',
    help: 'Safeguarding alerts raised, by severity (repeats within the window count on the same alert).',
    labelNames: ['severity'] as const,
    registers,
    collect() {
      const { raised } = read().engine;
      this.reset();
      for (const [severity, n] of Object.entries(raised)) this.inc({ severity }, n);
    },
  });
  mirrorCounter(
    registers,
    'schoolgate_alert_requests_counted_total',
    'Requests counted on a safeguarding alert already raised (same person and rule within the window).',
    () => read().engine.counted,
  );
  mirrorCounter(
    registers,
    'schoolgate_alert_store_failures_total',
    'Alerts (or their counts) the audit database could not store; the sinks still delivered them.',
    () => read().engine.writeFailures,
  );
  new Counter({
    name: 'schoolgate_alert_deliveries_total',
    help: 'Alert deliveries by sink (log, webhook, email) and result: delivered, or dead_letter (given up).',
    labelNames: ['sink', 'result'] as const,
    registers,
    collect() {
      this.reset();
      for (const [sink, s] of Object.entries(read().sinks)) {
        this.inc({ sink, result: 'delivered' }, s.delivered);
        this.inc({ sink, result: 'dead_letter' }, s.deadLetters);
      }
    },
  });
  new Gauge({
    name: 'schoolgate_alert_sink_queued',
    help: 'Alerts waiting for delivery (first attempt or a retry) per sink. Growing: the receiver is down.',
    labelNames: ['sink'] as const,
    registers,
    collect() {
      this.reset();
      for (const [sink, s] of Object.entries(read().sinks)) this.set({ sink }, s.queued);
    },
  });
}
