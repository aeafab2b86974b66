/** Playbooks for CONNECT (runConnect), the client's first flight (tunnelFlight) and inner requests. */
import { afterEach, describe, expect, it } from 'vitest';
import { tunnelFlight } from '../../../src/exchange/index.js';
import type { FirstFlight } from '../../../src/tls/client-hello.js';
import {
  closeHarnesses,
  connect,
  harness,
  http,
  openTunnel,
  OUTSIDE,
  PLAINTEXT_FLIGHT,
  PUPIL,
  STAFF,
  summary,
  tlsFlight,
  upgrade,
} from './playbook.js';

afterEach(closeHarnesses);

const tunnelRow = {
  kind: 'tunnel',
  method: 'CONNECT',
  scheme: 'https',
  port: 443,
  path: '/',
  clientIp: PUPIL,
  user: null,
} as const;

describe('runConnect: typical tunnels', () => {
  it('opens an allowed host for inspection without an upstream connection, then intercepts its TLS', async () => {
    const h = await harness({ inspectionReady: true });
    const { step, ex, io, connects } = await connect(h, PUPIL, 'allowed.test:443');
    expect(step.kind).toBe('open');
    if (step.kind !== 'open') return;
    expect(step.tunnel).toMatchObject({ plan: { inspect: true }, upstream: null, mapped: null });
    expect(connects).toEqual([]);
    expect(h.audit.rows.map(summary)).toEqual([
      {
        ...tunnelRow,
        action: 'allow',
        reason: 'inspect:default',
        host: 'allowed.test',
        profile: 'pupil',
        categories: [],
        status: 200,
      },
    ]);

    const flight = await tunnelFlight(ex, step.tunnel, tlsFlight('allowed.test'), io);
    expect(flight).toEqual({
      kind: 'intercept',
      context: {
        tunnelId: ex.id,
        clientIp: PUPIL,
        proxyAuthorization: undefined,
        connect: { scheme: 'https', host: 'allowed.test', hostKind: 'domain', port: 443, path: '/' },
        sni: 'allowed.test',
      },
    });
    expect(connects).toEqual([]);
    expect(h.audit.rows).toHaveLength(1);
    expect(h.audit.outcomes).toEqual([]);
  });

  it('opens a raw tunnel when inspection is not ready: connects to the checked address while committing', async () => {
    const h = await harness({ inspectionReady: false });
    const { step, ex, io, connects } = await connect(h, PUPIL, 'allowed.test:443');
    expect(step.kind).toBe('open');
    if (step.kind !== 'open') return;
    expect(connects).toEqual([{ address: '127.0.0.1', port: 443 }]);
    expect(step.tunnel.upstream).toEqual({ token: 'upstream', address: '127.0.0.1', port: 443 });
    expect(h.audit.rows.map((r) => [r.action, r.reason, r.status])).toEqual([['allow', 'default', 200]]);

    const flight = await tunnelFlight(ex, step.tunnel, tlsFlight('allowed.test'), io);
    expect(flight).toEqual({ kind: 'raw', upstream: step.tunnel.upstream });
    expect(connects).toHaveLength(1);
  });

  it('maps a raw tunnel to the engine’s SafeSearch host and records the rewrite', async () => {
    const h = await harness({ inspectionReady: false });
    const { step, connects } = await connect(h, PUPIL, 'www.google.com:443');
    expect(step.kind).toBe('open');
    expect(connects).toEqual([{ address: '127.0.0.2', port: 443 }]);
    expect(h.audit.rows.map(summary)).toEqual([
      {
        ...tunnelRow,
        action: 'allow',
        reason: 'default',
        host: 'www.google.com',
        profile: 'pupil',
        categories: [],
        status: 200,
        rewrites: ['host:forcesafesearch.google.com'],
      },
    ]);
  });

  it.each(['allowed.test:443', 'blocked.example:443', 'social.test:443'])(
    'refuses %s with 503 when inspection is on but the school CA is unusable: never a raw tunnel',
    async (authority) => {
      const h = await harness({ inspectionReady: false, config: { tls: { inspect: true } } });
      const { step, connects } = await connect(h, PUPIL, authority);
      expect(step).toMatchObject({ kind: 'answer', answer: { status: 503, close: true } });
      if (step.kind === 'answer') expect(step.answer.body).toContain('SG_CA_UNUSABLE');
      expect(connects).toEqual([]);
      expect(h.audit.rows.map((r) => [r.action, r.reason, r.kind, r.status])).toEqual([
        ['error', 'SG_CA_UNUSABLE', 'tunnel', 503],
      ]);
    },
  );

  it('answers a blocked host at once (403) when the tunnel cannot be inspected', async () => {
    const h = await harness({ inspectionReady: false });
    const { step, ex, connects } = await connect(h, PUPIL, 'blocked.example:443');
    expect(step).toMatchObject({ kind: 'answer', answer: { status: 403, close: true } });
    if (step.kind === 'answer') expect(step.answer.body).toContain(ex.id);
    expect(connects).toEqual([]);
    expect(h.audit.rows.map(summary)).toEqual([
      {
        ...tunnelRow,
        action: 'block',
        reason: 'category',
        host: 'blocked.example',
        profile: 'pupil',
        categories: ['adult'],
        status: 403,
      },
    ]);
  });

  it('answers a warned host 403 when it cannot be inspected: never tunnelled past its warning', async () => {
    const h = await harness({ inspectionReady: false });
    const { step, connects } = await connect(h, STAFF, 'social.test:443');
    expect(step).toMatchObject({ kind: 'answer', answer: { status: 403, close: true } });
    expect(connects).toEqual([]);
    expect(h.audit.rows.map((r) => [r.action, r.reason, r.kind, r.profile])).toEqual([
      ['warn', 'category', 'tunnel', 'staff'],
    ]);
  });

  it('blocks a port outside tunnelPorts', async () => {
    const h = await harness();
    const { step, connects } = await connect(h, PUPIL, 'allowed.test:8443');
    expect(step).toMatchObject({ kind: 'answer', answer: { status: 403, close: true } });
    expect(connects).toEqual([]);
    expect(h.audit.rows.map(summary)).toEqual([
      {
        ...tunnelRow,
        action: 'block',
        reason: 'port',
        host: 'allowed.test',
        port: 8443,
        profile: 'pupil',
        categories: [],
        status: 403,
      },
    ]);
  });

  it('refuses a client outside clientNetworks', async () => {
    const h = await harness();
    const { step } = await connect(h, OUTSIDE, 'allowed.test:443');
    expect(step).toMatchObject({ kind: 'answer', answer: { status: 403, close: true } });
    expect(h.audit.rows.map((r) => [r.action, r.reason, r.kind, r.host, r.profile])).toEqual([
      ['refused', 'client-network', 'tunnel', 'allowed.test', null],
    ]);
  });

  it.each([
    ['timeout', 504],
    ['error', 502],
  ] as const)(
    'answers a raw tunnel whose upstream connect fails (%s) with %i and writes the outcome',
    async (upstream, status) => {
      const h = await harness({ inspectionReady: false });
      const { step, ex } = await connect(h, PUPIL, 'allowed.test:443', { upstream });
      expect(step).toMatchObject({ kind: 'answer', answer: { status, close: true } });
      expect(h.audit.rows.map((r) => [r.action, r.status])).toEqual([['allow', 200]]);
      expect(h.audit.outcomes).toEqual([
        { id: ex.id, outcome: { status, bytesIn: 0, bytesOut: 0, durationMs: expect.any(Number) } },
      ]);
    },
  );

  it('answers a raw tunnel whose name server never answers with 504, saying so in the row', async () => {
    const h = await harness({ inspectionReady: false, lookupAll: () => new Promise<never>(() => {}) });
    const { step, ex } = await connect(h, PUPIL, 'slow-dns.example:443');
    expect(step).toMatchObject({ kind: 'answer', answer: { status: 504, close: true } });
    expect(h.audit.rows.map((r) => [r.id, r.action, r.reason, r.status])).toEqual([
      [ex.id, 'allow', 'upstream:lookup-timeout', 504],
    ]);
  });

  it('asks for proxy credentials (407) at the CONNECT when auth is required', async () => {
    const h = await harness({ config: { identity: { basicAuth: true, requireAuth: true } } });
    const { step } = await connect(h, PUPIL, 'allowed.test:443');
    expect(step).toMatchObject({ kind: 'answer', answer: { status: 407, close: true } });
    expect(h.audit.rows.map((r) => [r.action, r.reason, r.kind])).toEqual([
      ['auth-failed', 'auth:auth-required', 'tunnel'],
    ]);
  });
});

describe('runConnect: hostile authorities', () => {
  it.each([
    ['no port', 'allowed.test', 'bad-request:no-port', 'allowed.test'],
    ['an empty port', 'allowed.test:', 'bad-request:no-port', 'allowed.test:'],
    [
      'userinfo',
      'allowed.test@blocked.example:443',
      'bad-request:userinfo',
      'allowed.test@blocked.example:443',
    ],
    ['a path', 'allowed.test:443/x', 'bad-request:bad-url', 'allowed.test:443'],
    ['an empty label', 'a..b.test:443', 'bad-request:empty-label', 'a..b.test:443'],
    ['a bad port', 'allowed.test:0', 'bad-request:bad-port', 'allowed.test:0'],
  ])('rejects %s with 400, a reject row and no upstream', async (_what, authority, reason, host) => {
    const h = await harness();
    const { step, ex, connects } = await connect(h, PUPIL, authority);
    expect(step).toMatchObject({ kind: 'answer', answer: { status: 400, close: true } });
    if (step.kind === 'answer') expect(step.answer.body).toContain(ex.id);
    expect(connects).toEqual([]);
    expect(h.audit.rows.map(summary)).toEqual([
      {
        kind: 'tunnel',
        method: 'CONNECT',
        scheme: 'http',
        clientIp: PUPIL,
        action: 'reject',
        reason,
        host,
        port: null,
        path: null,
        user: null,
        profile: null,
        categories: [],
        status: 400,
      },
    ]);
  });

  it('refuses a client outside clientNetworks even when its authority is malformed', async () => {
    const h = await harness();
    const { step } = await connect(h, OUTSIDE, 'allowed.test');
    expect(step).toMatchObject({ kind: 'answer', answer: { status: 403, close: true } });
    expect(h.audit.rows.map((r) => [r.action, r.reason, r.host])).toEqual([
      ['refused', 'client-network', 'allowed.test'],
    ]);
  });
});

describe('tunnelFlight: the first flight after 200', () => {
  it('closes on an SNI naming another, blocked host: a sni-mismatch row, and the tunnel’s outcome', async () => {
    const h = await harness({ inspectionReady: true });
    const { step, ex, io, connects } = await connect(h, PUPIL, 'allowed.test:443');
    if (step.kind !== 'open') throw new Error('not opened');
    const flight = await tunnelFlight(ex, step.tunnel, tlsFlight('blocked.example'), io);
    expect(flight).toEqual({ kind: 'close' });
    expect(connects).toEqual([]);
    expect(h.audit.rows.map(summary)).toEqual([
      {
        ...tunnelRow,
        action: 'allow',
        reason: 'inspect:default',
        host: 'allowed.test',
        profile: 'pupil',
        categories: [],
        status: 200,
      },
      {
        ...tunnelRow,
        action: 'block',
        reason: 'sni-mismatch',
        host: 'blocked.example',
        profile: 'pupil',
        categories: ['adult'],
        status: null,
      },
    ]);
    expect(h.audit.rows[1]!.id).not.toBe(ex.id);
    expect(h.audit.outcomes).toEqual([
      { id: ex.id, outcome: { status: 403, bytesIn: 517, bytesOut: 0, durationMs: expect.any(Number) } },
    ]);
  });

  it('closes a raw tunnel on a blocked SNI too', async () => {
    const h = await harness({ inspectionReady: false });
    const { step, ex, io } = await connect(h, PUPIL, 'allowed.test:443');
    if (step.kind !== 'open') throw new Error('not opened');
    const flight = await tunnelFlight(ex, step.tunnel, tlsFlight('bet.test'), io);
    expect(flight).toEqual({ kind: 'close' });
    expect(h.audit.rows.map((r) => [r.action, r.reason, r.host])).toEqual([
      ['allow', 'default', 'allowed.test'],
      ['block', 'sni-mismatch', 'bet.test'],
    ]);
  });

  it('intercepts under the SNI name when it differs but is allowed (no second row)', async () => {
    const h = await harness({ inspectionReady: true });
    const { step, ex, io } = await connect(h, PUPIL, 'allowed.test:443');
    if (step.kind !== 'open') throw new Error('not opened');
    const flight = await tunnelFlight(ex, step.tunnel, tlsFlight('Other.Test.'), io);
    expect(flight).toMatchObject({ kind: 'intercept', context: { sni: 'other.test', tunnelId: ex.id } });
    expect(h.audit.rows).toHaveLength(1);
  });

  it('takes an SNI that differs only in case and a trailing dot for the CONNECT name (no second row)', async () => {
    const h = await harness({ inspectionReady: true });
    const { step, ex, io } = await connect(h, PUPIL, 'Allowed.Test.:443');
    if (step.kind !== 'open') throw new Error('not opened');
    const flight = await tunnelFlight(ex, step.tunnel, tlsFlight('ALLOWED.TEST.'), io);
    expect(flight).toMatchObject({ kind: 'intercept', context: { sni: 'allowed.test' } });
    expect(h.audit.rows.map((r) => r.host)).toEqual(['allowed.test']);
  });

  it('intercepts an allowed CONNECT whose SNI names a warned host, so inner requests get the warn page', async () => {
    const h = await harness({ inspectionReady: true });
    const { step, ex, io } = await connect(h, STAFF, 'allowed.test:443');
    if (step.kind !== 'open') throw new Error('not opened');
    const flight = await tunnelFlight(ex, step.tunnel, tlsFlight('social.test'), io);
    expect(flight).toMatchObject({ kind: 'intercept', context: { sni: 'social.test' } });
    if (flight.kind !== 'intercept') return;
    const inner = await http(h, STAFF, '/', { tunnel: flight.context });
    expect(inner.step).toMatchObject({ kind: 'answer', answer: { status: 403 } });
    expect(h.audit.row(inner.ex.id)).toMatchObject({ action: 'warn', host: 'social.test' });
  });

  it('never relays raw to a warned SNI name behind an allowed CONNECT name (no warn page possible)', async () => {
    const h = await harness({ inspectionReady: false });
    const { step, ex, io } = await connect(h, STAFF, 'allowed.test:443');
    if (step.kind !== 'open') throw new Error('not opened');
    const flight = await tunnelFlight(ex, step.tunnel, tlsFlight('social.test'), io);
    // "A warned host is only ever opened for inspection; where it cannot be inspected it is refused."
    expect(flight.kind).not.toBe('raw');
    expect(flight).toEqual({ kind: 'close' });
  });

  it('closes on an SNI that is not a host name, with a bad-request:sni row', async () => {
    const h = await harness({ inspectionReady: true });
    const { step, ex, io } = await connect(h, PUPIL, 'allowed.test:443');
    if (step.kind !== 'open') throw new Error('not opened');
    const flight = await tunnelFlight(ex, step.tunnel, tlsFlight('a..b'), io);
    expect(flight).toEqual({ kind: 'close' });
    expect(h.audit.rows.map((r) => [r.action, r.reason, r.host, r.kind])).toEqual([
      ['allow', 'inspect:default', 'allowed.test', 'tunnel'],
      ['reject', 'bad-request:sni', 'a..b', 'tunnel'],
    ]);
  });

  it('closes on an SNI in raw UTF-8 (no one reading: we read it as latin1), with a bad-request:sni row', async () => {
    const h = await harness({ inspectionReady: true });
    const { step, ex, io } = await connect(h, PUPIL, 'allowed.test:443');
    if (step.kind !== 'open') throw new Error('not opened');
    const sni = Buffer.from('allowed.tеst').toString('latin1'); // Cyrillic е
    const flight = await tunnelFlight(ex, step.tunnel, tlsFlight(sni), io);
    expect(flight).toEqual({ kind: 'close' });
    expect(h.audit.rows.map((r) => [r.action, r.reason, r.kind])).toEqual([
      ['allow', 'inspect:default', 'tunnel'],
      ['reject', 'bad-request:sni', 'tunnel'],
    ]);
  });

  it('closes a non-TLS first flight of an allowed host in an inspectable tunnel, with a row that says why', async () => {
    const h = await harness({ inspectionReady: true });
    const { step, ex, io, connects } = await connect(h, PUPIL, 'allowed.test:443');
    if (step.kind !== 'open') throw new Error('not opened');
    const flight = await tunnelFlight(ex, step.tunnel, PLAINTEXT_FLIGHT, io);
    expect(flight).toEqual({ kind: 'close' });
    expect(connects).toEqual([]);
    expect(h.audit.rows.at(-1)).toMatchObject({
      action: 'block',
      reason: 'non-tls-in-tunnel',
      host: 'allowed.test',
    });
    expect(h.audit.outcomes.map((o) => [o.id, o.outcome.status])).toEqual([[ex.id, 403]]);
  });

  it('closes a non-TLS first flight of a warned host (its warn page needs inspection)', async () => {
    const h = await harness({ inspectionReady: true });
    const { step, ex, io, connects } = await connect(h, STAFF, 'social.test:443');
    expect(step.kind).toBe('open');
    if (step.kind !== 'open') return;
    const flight = await tunnelFlight(ex, step.tunnel, PLAINTEXT_FLIGHT, io);
    expect(flight).toEqual({ kind: 'close' });
    expect(connects).toEqual([]);
    expect(h.audit.outcomes.map((o) => [o.id, o.outcome.status])).toEqual([[ex.id, 403]]);
  });

  it.each(['timeout', 'closed', 'malformed'] as const)(
    'closes a tunnel whose first flight is %s, writing its outcome',
    async (kind) => {
      const h = await harness({ inspectionReady: true });
      const { step, ex, io } = await connect(h, PUPIL, 'allowed.test:443');
      if (step.kind !== 'open') throw new Error('not opened');
      const first: FirstFlight = { kind, bytes: Buffer.from([0x16, 0x03]) };
      expect(await tunnelFlight(ex, step.tunnel, first, io)).toEqual({ kind: 'close' });
      expect(h.audit.outcomes.map((o) => [o.id, o.outcome.status, o.outcome.bytesIn])).toEqual([
        [ex.id, 200, 2],
      ]);
    },
  );
});

describe('a blocked CONNECT for an inspected profile: opened only for the block page', () => {
  it('opens (row block, block-page reason, status 200) and intercepts a TLS client with context.blocked', async () => {
    const h = await harness({ inspectionReady: true });
    const { step, ex, io, connects } = await connect(h, PUPIL, 'blocked.example:443');
    expect(step.kind).toBe('open');
    if (step.kind !== 'open') return;
    expect(connects).toEqual([]);
    expect(h.audit.rows.map(summary)).toEqual([
      {
        ...tunnelRow,
        action: 'block',
        reason: 'block-page:category',
        host: 'blocked.example',
        profile: 'pupil',
        categories: ['adult'],
        status: 200,
      },
    ]);
    const flight = await tunnelFlight(ex, step.tunnel, tlsFlight('blocked.example'), io);
    expect(flight.kind).toBe('intercept');
    if (flight.kind !== 'intercept') return;
    expect(flight.context.blocked).toMatchObject({ kind: 'block', decision: { categories: ['adult'] } });
    expect(flight.context.sni).toBeNull();
    expect(connects).toEqual([]);
  });

  it('closes a non-TLS client of a block-page tunnel with outcome 403', async () => {
    const h = await harness({ inspectionReady: true });
    const { step, ex, io, connects } = await connect(h, PUPIL, 'blocked.example:443');
    if (step.kind !== 'open') throw new Error('not opened');
    expect(await tunnelFlight(ex, step.tunnel, PLAINTEXT_FLIGHT, io)).toEqual({ kind: 'close' });
    expect(connects).toEqual([]);
    expect(h.audit.outcomes.map((o) => [o.id, o.outcome.status])).toEqual([[ex.id, 403]]);
  });

  it.each([
    ['the blocked host itself', 'blocked.example', '/'],
    ['an allowed inner Host', 'allowed.test', '/page'],
    ['an allowed inner Host with a port', 'allowed.test:443', '/page?q=1'],
  ])(
    'gives an inner request for %s the block page, closing, never a forward',
    async (_what, host, target) => {
      const h = await harness({ inspectionReady: true });
      const { context } = await openTunnel(h, PUPIL, 'blocked.example:443', 'blocked.example');
      h.audit.rows.length = 0;
      const { step, ex, calls } = await http(h, PUPIL, target, { host, tunnel: context });
      expect(step.kind).toBe('answer');
      if (step.kind !== 'answer') return;
      expect(step.answer).toMatchObject({ status: 403, close: true });
      expect(step.answer.body).toContain(ex.id);
      expect(calls.readBody).toBe(0);
      expect(h.audit.rows.map((r) => [r.action, r.reason, r.kind, r.categories, r.status])).toEqual([
        ['block', 'category', 'inspected', ['adult'], 403],
      ]);
    },
  );

  it('gives an inner upgrade in a block-page tunnel the block page too, never a relay', async () => {
    const h = await harness({ inspectionReady: true });
    const { context } = await openTunnel(h, PUPIL, 'blocked.example:443', 'blocked.example');
    const { step } = await upgrade(h, PUPIL, '/socket', { host: 'allowed.test', tunnel: context });
    expect(step).toMatchObject({ kind: 'answer', answer: { status: 403, close: true } });
  });

  it('never opens a tunnel over a policy error, even for an inspected profile', async () => {
    const h = await harness({ inspectionReady: true });
    const real = h.snapshot.lists;
    h.env.policy = () => ({
      ...h.snapshot,
      lists: {
        categories: real.categories,
        endpoints: real.endpoints,
        match: () => {
          throw new Error('index corrupt');
        },
      },
    });
    const { step } = await connect(h, PUPIL, 'allowed.test:443');
    expect(step).toMatchObject({ kind: 'answer', answer: { status: 403, close: true } });
    expect(h.audit.rows.map((r) => [r.action, r.reason, r.note, r.kind])).toEqual([
      ['error', 'SG_POLICY_ERROR', 'index corrupt', 'tunnel'],
    ]);
  });
});

describe('inner requests of an intercepted tunnel', () => {
  it('forwards an allowed inner request to its own Host’s checked address, recorded as inspected', async () => {
    const h = await harness({ inspectionReady: true });
    const { context } = await openTunnel(h, PUPIL, 'allowed.test:443', 'allowed.test');
    const inner = await http(h, PUPIL, '/a//b/%2e%2e/c?x=%41#top', { host: 'allowed.test', tunnel: context });
    expect(inner.step).toMatchObject({
      kind: 'forward',
      target: { scheme: 'https', host: 'allowed.test', port: 443, path: '/a/c?x=A' },
      address: '127.0.0.1',
      rawPath: '/a//b/%2e%2e/c?x=%41',
      pageUrl: 'https://allowed.test/a//b/%2e%2e/c?x=%41#top',
    });
    expect(summary(h.audit.row(inner.ex.id))).toEqual({
      kind: 'inspected',
      method: 'GET',
      scheme: 'https',
      clientIp: PUPIL,
      action: 'allow',
      reason: 'default',
      host: 'allowed.test',
      port: 443,
      path: '/a/c?x=A',
      user: null,
      profile: 'pupil',
      categories: [],
      status: null,
    });
  });

  it('decides an inner request on its own Host: a fronted blocked Host gets the block page', async () => {
    const h = await harness({ inspectionReady: true });
    const { context } = await openTunnel(h, PUPIL, 'allowed.test:443', 'allowed.test');
    const { step, ex } = await http(h, PUPIL, '/', { host: 'www.facebook.com', tunnel: context });
    expect(step).toMatchObject({ kind: 'answer', answer: { status: 403 } });
    expect(summary(h.audit.row(ex.id))).toMatchObject({
      action: 'block',
      reason: 'category',
      kind: 'inspected',
      host: 'www.facebook.com',
      port: 443,
      categories: ['social'],
    });
  });

  it('takes the tunnel’s name and port when the inner request has no Host', async () => {
    const h = await harness({ inspectionReady: true });
    const { context } = await openTunnel(h, PUPIL, 'allowed.test:443', 'other.test');
    const { step } = await http(h, PUPIL, '/x', { tunnel: context });
    expect(step).toMatchObject({ kind: 'forward', target: { host: 'other.test', port: 443 } });
  });

  it('checks an inner Host’s explicit port against tunnelPorts', async () => {
    const h = await harness({ inspectionReady: true });
    const { context } = await openTunnel(h, PUPIL, 'allowed.test:443', 'allowed.test');
    const { step, ex } = await http(h, PUPIL, '/', { host: 'allowed.test:8443', tunnel: context });
    expect(step).toMatchObject({ kind: 'answer', answer: { status: 403 } });
    expect(h.audit.row(ex.id)).toMatchObject({ action: 'block', reason: 'port', port: 8443 });
  });

  it.each([
    ['absolute-form', 'http://blocked.example/', 'allowed.test', 'bad-request:inner-target'],
    ['authority-form', 'blocked.example:443', 'allowed.test', 'bad-request:inner-target'],
    ['asterisk-form', '*', 'allowed.test', 'bad-request:inner-target'],
    ['a Host with a path', '/', 'allowed.test/evil', 'bad-request:host'],
    ['a Host with a query', '/', 'allowed.test?x', 'bad-request:host'],
    // Node reads header bytes as latin1: raw UTF-8 would be decided as another name than the client meant.
    ['raw UTF-8 Host', '/', Buffer.from('blоcked.example').toString('latin1'), 'bad-request:non-ascii-host'],
  ])(
    'rejects an inner %s target, recording the tunnel’s name and the target as sent',
    async (_what, target, host, reason) => {
      const h = await harness({ inspectionReady: true });
      const { context } = await openTunnel(h, PUPIL, 'allowed.test:443', 'other.test');
      const { step, ex, calls } = await http(h, PUPIL, target, { host, tunnel: context });
      expect(step).toMatchObject({ kind: 'answer', answer: { status: 400, close: true } });
      expect(calls.closing).toBe(1);
      expect(summary(h.audit.row(ex.id))).toEqual({
        kind: 'inspected',
        method: 'GET',
        scheme: 'http',
        clientIp: PUPIL,
        action: 'reject',
        reason,
        host: 'other.test',
        port: null,
        path: target,
        user: null,
        profile: null,
        categories: [],
        status: 400,
      });
    },
  );

  it('rejects a duplicate Host found by the raw checks inside a tunnel, with the tunnel’s name', async () => {
    const h = await harness({ inspectionReady: true });
    const { context } = await openTunnel(h, PUPIL, 'allowed.test:443', null);
    const { step, ex } = await http(h, PUPIL, '/', {
      host: 'allowed.test',
      tunnel: context,
      over: { rawFailure: { status: 400, reason: 'bad-request:duplicate-host' } },
    });
    expect(step).toMatchObject({ kind: 'answer', answer: { status: 400, close: true } });
    expect(h.audit.row(ex.id)).toMatchObject({
      action: 'reject',
      reason: 'bad-request:duplicate-host',
      host: 'allowed.test',
      kind: 'inspected',
    });
  });

  it('relays an allowed inner upgrade to the checked address, recorded as inspected with status 101', async () => {
    const h = await harness({ inspectionReady: true });
    const { context } = await openTunnel(h, PUPIL, 'allowed.test:443', 'allowed.test');
    const { step, ex } = await upgrade(h, PUPIL, '/ws?room=1#x', { host: 'allowed.test', tunnel: context });
    expect(step).toEqual({
      kind: 'relay',
      target: { scheme: 'https', host: 'allowed.test', hostKind: 'domain', port: 443, path: '/ws?room=1' },
      address: '127.0.0.1',
      rawPath: '/ws?room=1',
    });
    expect(h.audit.row(ex.id)).toMatchObject({ action: 'allow', kind: 'inspected', status: 101 });
  });

  it('carries the CONNECT’s client and credentials into inner requests', async () => {
    const h = await harness({
      inspectionReady: true,
      config: { identity: { basicAuth: true, requireAuth: true } },
    });
    await h.users.add({ name: 'bob', profile: 'pupil', password: 'pw' });
    const auth = `Basic ${Buffer.from('bob:pw').toString('base64')}`;
    const { step, ex, io } = await connect(h, STAFF, 'allowed.test:443', { proxyAuthorization: auth });
    if (step.kind !== 'open') throw new Error('not opened');
    const flight = await tunnelFlight(ex, step.tunnel, tlsFlight('allowed.test'), io);
    if (flight.kind !== 'intercept') throw new Error('not intercepted');
    expect(flight.context).toMatchObject({ clientIp: STAFF, proxyAuthorization: auth });
    const inner = await http(h, 'ignored', '/', { host: 'social.test', tunnel: flight.context });
    expect(h.audit.row(inner.ex.id)).toMatchObject({
      user: 'bob',
      profile: 'pupil',
      clientIp: STAFF,
      action: 'block',
      kind: 'inspected',
    });
  });
});
