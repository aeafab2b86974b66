/**
 * The metrics subscriber on its own: a real ExchangeEvents bus, fake proxy state, the registry's text read
 * back through the Prometheus parser.
 */
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import type { AuditEvent } from '../../../src/audit/types.js';
import { ExchangeEvents } from '../../../src/exchange/events.js';
import { startMetrics, type MetricsDeps } from '../../../src/metrics/metrics.js';
import { histogramOf, parseMetrics, valueOf } from '../../helpers/prometheus.js';

function row(over: Partial<AuditEvent> = {}): AuditEvent {
  return {
    id: `id-${Math.random()}`,
    time: Date.now(),
    user: null,
    profile: 'pupil',
    clientIp: '10.0.0.5',
    device: null,
    method: 'GET',
    scheme: 'http',
    host: 'social.test',
    port: 80,
    path: '/',
    categories: ['social'],
    action: 'block',
    rule: 'category:social:social.test',
    reason: 'category',
    flagged: false,
    status: 403,
    kind: 'request',
    ...over,
  };
}

/** Lets the bus deliver (it delivers in setImmediate, after the current turn). */
const delivered = () => new Promise<void>((resolve) => setImmediate(resolve));

function setup(over: Partial<MetricsDeps> = {}) {
  const events = new ExchangeEvents(pino({ level: 'silent' }));
  const metrics = startMetrics({
    events,
    stats: { openTunnels: 3 },
    auditQueueDepth: () => 7,
    server: { getConnections: (cb) => setImmediate(() => cb(null, 12)) },
    leaves: { hits: 5, misses: 2, signed: 2, cachedHosts: 2 },
    reloads: () => ({ reloads: 4, failures: 1, lastError: null }),
    loadedAt: () => 1_700_000_000_000,
    ...over,
  });
  return { events, metrics, read: async () => parseMetrics(await metrics.render()) };
}

describe('metrics subscriber', () => {
  it('counts committed rows by action, kind and profile, categories, and commit time in seconds', async () => {
    const { events, read } = setup();
    events.emit('committed', 'a', { row: row(), commitMs: 4 });
    events.emit('committed', 'b', { row: row({ categories: ['social', 'streaming'] }), commitMs: 40 });
    events.emit('committed', 'c', {
      row: row({ action: 'refused', profile: null, kind: undefined, categories: [] }),
      commitMs: 1,
    });
    await delivered();
    const m = await read();
    expect(
      valueOf(m, 'schoolgate_requests_total', { action: 'block', kind: 'request', profile: 'pupil' }),
    ).toBe(2);
    expect(
      valueOf(m, 'schoolgate_requests_total', { action: 'refused', kind: 'request', profile: 'none' }),
    ).toBe(1);
    expect(valueOf(m, 'schoolgate_category_decisions_total', { category: 'social', action: 'block' })).toBe(
      2,
    );
    expect(
      valueOf(m, 'schoolgate_category_decisions_total', { category: 'streaming', action: 'block' }),
    ).toBe(1);
    const commit = histogramOf(m, 'schoolgate_audit_commit_seconds');
    expect(commit.count).toBe(3);
    expect(commit.sum).toBeCloseTo(0.045, 6);
    expect(commit.buckets.get(0.005)).toBe(2); // 1 ms and 4 ms
    expect(commit.buckets.get(0.05)).toBe(3);
  });

  it('reads queue, connections, tunnels, certificate cache and reloads when scraped', async () => {
    const { read } = setup();
    const m = await read();
    expect(valueOf(m, 'schoolgate_audit_queue_rows')).toBe(7);
    expect(valueOf(m, 'schoolgate_open_connections')).toBe(12);
    expect(valueOf(m, 'schoolgate_open_tunnels')).toBe(3);
    expect(valueOf(m, 'schoolgate_tls_leaf_cache_hits_total')).toBe(5);
    expect(valueOf(m, 'schoolgate_tls_leaf_cache_misses_total')).toBe(2);
    expect(valueOf(m, 'schoolgate_reloads_total', { result: 'ok' })).toBe(4);
    expect(valueOf(m, 'schoolgate_reloads_total', { result: 'failed' })).toBe(1);
    expect(valueOf(m, 'schoolgate_last_reload_successful')).toBe(1);
    expect(valueOf(m, 'schoolgate_last_reload_success_timestamp_seconds')).toBe(1_700_000_000);
    // Scraping twice does not double the mirrored counters.
    expect(valueOf(await read(), 'schoolgate_tls_leaf_cache_hits_total')).toBe(5);
  });

  it('shows a failed last reload, and zeros (not gaps) without inspection or reloader', async () => {
    const failed = await setup({
      reloads: () => ({ reloads: 0, failures: 2, lastError: 'bad line' }),
    }).read();
    expect(valueOf(failed, 'schoolgate_last_reload_successful')).toBe(0);
    const bare = await setup({ leaves: null, reloads: () => null }).read();
    expect(bare.get('schoolgate_tls_leaf_cache_hits_total')!.samples).toHaveLength(1);
    expect(valueOf(bare, 'schoolgate_tls_leaf_cache_hits_total')).toBe(0);
    expect(valueOf(bare, 'schoolgate_reloads_total', { result: 'ok' })).toBe(0);
    expect(valueOf(bare, 'schoolgate_last_reload_successful')).toBe(1);
  });

  it('a subscriber that throws changes nothing for the emitter or the other subscribers, and is counted', async () => {
    const { events, read } = setup();
    events.on('committed', () => {
      throw new Error('broken subscriber');
    });
    // emit() is what the exchange calls on the request path: it must return normally.
    expect(() =>
      events.emit('committed', 'x', { row: row({ action: 'allow', categories: [] }), commitMs: 2 }),
    ).not.toThrow();
    await delivered();
    const m = await read();
    expect(valueOf(m, 'schoolgate_event_subscriber_errors_total')).toBe(1);
    expect(
      valueOf(m, 'schoolgate_requests_total', { action: 'allow', kind: 'request', profile: 'pupil' }),
    ).toBe(1);
  });

  it('keeps each proxy in its own registry', async () => {
    const a = setup();
    const b = setup();
    a.events.emit('committed', 'a', { row: row(), commitMs: 1 });
    await delivered();
    const labels = { action: 'block', kind: 'request', profile: 'pupil' };
    expect(valueOf(await a.read(), 'schoolgate_requests_total', labels)).toBe(1);
    expect(valueOf(await b.read(), 'schoolgate_requests_total', labels)).toBe(0);
    // Node process metrics are there too, in both.
    expect((await b.read()).get('process_cpu_user_seconds_total')?.type).toBe('counter');
  });
});

describe("the tests' exposition parser", () => {
  const good = '# HELP a_total Things.\n# TYPE a_total counter\na_total{x="1"} 3\n';
  it('reads well-formed text', () => {
    expect(valueOf(parseMetrics(good), 'a_total', { x: '1' })).toBe(3);
  });
  it.each([
    ['no trailing newline', good.trimEnd()],
    ['a stray line', `${good}garbage line\n`],
    ['no HELP', '# TYPE a gauge\na 1\n'],
    ['an unknown type', '# HELP a x\n# TYPE a bogus\na 1\n'],
    ['unquoted label value', '# HELP a x\n# TYPE a gauge\na{x=1} 1\n'],
    ['unterminated labels', '# HELP a x\n# TYPE a gauge\na{x="1" 1\n'],
    ['a sample of another family', `${good}b 1\n`],
    ['a repeated series', `${good}a_total{x="1"} 4\n`],
    ['a negative counter', '# HELP a_total x\n# TYPE a_total counter\na_total -1\n'],
    ['a histogram without +Inf', '# HELP h x\n# TYPE h histogram\nh_bucket{le="1"} 1\nh_sum 1\nh_count 1\n'],
    [
      'a histogram that is not cumulative',
      '# HELP h x\n# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="+Inf"} 1\nh_sum 1\nh_count 1\n',
    ],
  ])('rejects %s', (_, text) => {
    expect(() => parseMetrics(text)).toThrow();
  });
});
