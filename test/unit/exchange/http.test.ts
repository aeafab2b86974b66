/** Playbooks for absolute-form HTTP on the proxy port (runHttp without a tunnel). */
import { afterEach, describe, expect, it } from 'vitest';
import {
  closeHarnesses,
  GUEST,
  harness,
  http,
  OUTSIDE,
  PROXY_PORT,
  PUPIL,
  STAFF,
  summary,
  warnFields,
} from './playbook.js';

afterEach(closeHarnesses);

const request = { kind: 'request', method: 'GET', scheme: 'http', clientIp: PUPIL } as const;

describe('runHttp on the proxy port: typical requests', () => {
  it('forwards an allowed request to the checked address with the client’s raw path bytes', async () => {
    const h = await harness();
    const { step, ex, calls } = await http(h, PUPIL, 'http://Allowed.Test/a/%2e%2E/b//c%2Fd?q=%41#frag', {
      io: { bytes: 12 },
    });
    expect(step).toEqual({
      kind: 'forward',
      target: { scheme: 'http', host: 'allowed.test', hostKind: 'domain', port: 80, path: '/b/c%2Fd?q=A' },
      address: '127.0.0.1',
      rawPath: '/a/%2e%2E/b//c%2Fd?q=%41',
      headers: {},
      body: { bytes: 12, tag: 'body' },
      pageUrl: 'http://Allowed.Test/a/%2e%2E/b//c%2Fd?q=%41#frag',
    });
    expect(calls).toEqual({ readBody: 1, readForm: 0, closing: 0 });
    expect(h.audit.rows.map(summary)).toEqual([
      {
        ...request,
        action: 'allow',
        reason: 'default',
        host: 'allowed.test',
        port: 80,
        path: '/b/c%2Fd?q=A',
        user: null,
        profile: 'pupil',
        categories: [],
        status: null,
      },
    ]);
    expect(h.audit.rows[0]!.id).toBe(ex.id);
  });

  it('answers a blocked request with the 403 block page whose reference is the row id, reading no body', async () => {
    const h = await harness();
    const { step, ex, calls } = await http(h, PUPIL, 'http://www.facebook.com/profile?id=1');
    expect(step.kind).toBe('answer');
    if (step.kind !== 'answer') return;
    expect(step.answer.status).toBe(403);
    expect(step.answer.close).toBeFalsy();
    expect(step.answer.body).toContain(ex.id);
    expect(step.answer.body).toContain('name="reference" value="' + ex.id + '"');
    expect(calls.readBody).toBe(0);
    expect(h.audit.rows.map(summary)).toEqual([
      {
        ...request,
        action: 'block',
        reason: 'category',
        host: 'www.facebook.com',
        port: 80,
        path: '/profile?id=1',
        user: null,
        profile: 'pupil',
        categories: ['social'],
        status: 403,
      },
    ]);
    expect(h.audit.rows[0]!.id).toBe(ex.id);
  });

  it('closes after a block when the request announced a body it never got to send', async () => {
    const h = await harness();
    const { step, calls } = await http(h, PUPIL, 'http://bet.test/upload', {
      method: 'POST',
      io: { hasBody: true },
    });
    expect(step).toMatchObject({ kind: 'answer', answer: { status: 403, close: true } });
    expect(calls.readBody).toBe(0);
    expect(h.audit.rows.map((r) => [r.action, r.method, r.categories])).toEqual([
      ['block', 'POST', ['gambling']],
    ]);
  });

  it('answers a warned request with the warn page carrying a Continue form for the site', async () => {
    const h = await harness();
    const { step, ex } = await http(h, STAFF, 'http://social.test/feed');
    expect(step.kind).toBe('answer');
    if (step.kind !== 'answer') return;
    expect(step.answer.status).toBe(403);
    const fields = warnFields(step.answer.body);
    expect(fields).toMatchObject({ site: 'social.test', url: 'http://social.test/feed', ref: ex.id });
    expect(fields.token).toMatch(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
    expect(h.audit.rows.map(summary)).toEqual([
      {
        ...request,
        clientIp: STAFF,
        action: 'warn',
        reason: 'category',
        host: 'social.test',
        port: 80,
        path: '/feed',
        user: null,
        profile: 'staff',
        categories: ['social'],
        status: 403,
      },
    ]);
  });

  it('records the search term and the enforced SafeSearch rewrite, and forwards the rewritten path', async () => {
    const h = await harness();
    const { step } = await http(h, PUPIL, 'http://www.google.com/search?q=red+pandas&safe=off');
    expect(step.kind).toBe('forward');
    if (step.kind !== 'forward') return;
    expect(step.rawPath).toContain('safe=active');
    expect(step.rawPath).not.toContain('safe=off');
    expect(h.audit.rows.map(summary)).toEqual([
      {
        ...request,
        action: 'allow',
        reason: 'default',
        host: 'www.google.com',
        port: 80,
        path: '/search?q=red+pandas&safe=off',
        user: null,
        profile: 'pupil',
        categories: [],
        status: null,
        searchTerm: 'red pandas',
        searchEngine: 'google',
        rewrites: ['safe=active'],
      },
    ]);
  });

  it('records the search term on a blocked search too', async () => {
    const h = await harness({
      config: { profiles: { replace: true, pupil: { deny: ['www.google.com'] }, staff: {}, guest: {} } },
    });
    const { step } = await http(h, PUPIL, 'http://www.google.com/search?q=how+to+bypass');
    expect(step).toMatchObject({ kind: 'answer', answer: { status: 403 } });
    expect(h.audit.rows.map((r) => [r.action, r.reason, r.searchTerm, r.searchEngine])).toEqual([
      ['block', 'profile-deny', 'how to bypass', 'google'],
    ]);
  });

  it('blocks a port outside httpPorts with reason port', async () => {
    const h = await harness();
    const { step } = await http(h, PUPIL, 'http://allowed.test:25/');
    expect(step).toMatchObject({ kind: 'answer', answer: { status: 403 } });
    expect(h.audit.rows.map(summary)).toEqual([
      {
        ...request,
        action: 'block',
        reason: 'port',
        host: 'allowed.test',
        port: 25,
        path: '/',
        user: null,
        profile: 'pupil',
        categories: [],
        status: 403,
      },
    ]);
  });

  it('blocks a name that points inside the school network (localhost) without a lookup', async () => {
    const h = await harness();
    const { step } = await http(h, PUPIL, 'http://localhost:8080/admin');
    expect(step).toMatchObject({ kind: 'answer', answer: { status: 403 } });
    expect(h.audit.rows.map((r) => [r.action, r.reason, r.host, r.port])).toEqual([
      ['block', 'forbidden-address', 'localhost', 8080],
    ]);
  });

  it('refuses a client outside clientNetworks with 403 and a refused row, and closes', async () => {
    const h = await harness();
    const { step, calls } = await http(h, OUTSIDE, 'http://allowed.test/x');
    expect(step).toMatchObject({ kind: 'answer', answer: { status: 403, close: true } });
    expect(calls).toEqual({ readBody: 0, readForm: 0, closing: 1 });
    expect(h.audit.rows.map(summary)).toEqual([
      {
        ...request,
        clientIp: OUTSIDE,
        action: 'refused',
        reason: 'client-network',
        host: 'allowed.test',
        port: 80,
        path: '/x',
        user: null,
        profile: null,
        categories: [],
        status: 403,
      },
    ]);
  });

  it('asks for proxy credentials (407) when basic auth is required and none were sent', async () => {
    const h = await harness({
      config: { identity: { basicAuth: true, requireAuth: true, realm: 'Test School' } },
    });
    const { step } = await http(h, GUEST, 'http://allowed.test/');
    expect(step.kind).toBe('answer');
    if (step.kind !== 'answer') return;
    expect(step.answer.status).toBe(407);
    expect(step.answer.headers).toEqual({
      'proxy-authenticate': 'Basic realm="Test School", charset="UTF-8"',
    });
    expect(h.audit.rows.map((r) => [r.action, r.reason, r.user, r.profile])).toEqual([
      ['auth-failed', 'auth:auth-required', null, null],
    ]);
  });

  it('identifies a user by proxy credentials: the row names the user and their profile', async () => {
    const h = await harness({ config: { identity: { basicAuth: true, requireAuth: true } } });
    await h.users.add({ name: 'alice', profile: 'staff', password: 'correct horse' });
    const auth = `Basic ${Buffer.from('alice:correct horse').toString('base64')}`;
    await http(h, GUEST, 'http://social.test/', { proxyAuthorization: auth });
    const bad = `Basic ${Buffer.from('alice:wrong').toString('base64')}`;
    const { step } = await http(h, GUEST, 'http://social.test/', { proxyAuthorization: bad });
    expect(step).toMatchObject({ kind: 'answer', answer: { status: 407 } });
    // The failed login names nobody as its user: the name it claimed has its own field.
    expect(h.audit.rows.map((r) => [r.action, r.reason, r.user, r.claimedUser ?? null, r.profile])).toEqual([
      ['warn', 'category', 'alice', null, 'staff'],
      ['auth-failed', 'auth:bad-credentials', null, 'alice', null],
    ]);
  });

  it('gives the client’s aborted body no row and no forward', async () => {
    const h = await harness();
    const { step } = await http(h, PUPIL, 'http://allowed.test/upload', {
      method: 'POST',
      io: { hasBody: true, aborted: true },
    });
    expect(step).toEqual({ kind: 'aborted' });
    expect(h.audit.rows).toEqual([]);
  });

  it('writes the outcome once, however often complete() is called', async () => {
    const h = await harness();
    const { ex } = await http(h, PUPIL, 'http://allowed.test/');
    ex.complete({ status: 200, bytesIn: 10, bytesOut: 20 });
    ex.complete({ status: 500, bytesIn: 0, bytesOut: 0 });
    expect(h.audit.outcomes).toEqual([
      { id: ex.id, outcome: { status: 200, bytesIn: 10, bytesOut: 20, durationMs: expect.any(Number) } },
    ]);
  });
});

describe('runHttp on the proxy port: the proxy’s own pages', () => {
  it.each([
    ['origin-form', '/healthz', '/healthz'],
    ['asterisk-form', '*', '*'],
    ['its own name and port', `http://schoolgate.local:${PROXY_PORT}/proxy.pac?x=1`, '/proxy.pac?x=1'],
    ['a local name on its port', `http://127.0.0.1:${PROXY_PORT}/ca.crt`, '/ca.crt'],
  ])('serves %s as an own page without a row', async (_what, target, path) => {
    const h = await harness();
    const { step } = await http(h, PUPIL, target);
    expect(step).toEqual({ kind: 'own-page', path });
    expect(h.audit.rows).toEqual([]);
  });

  it('does not take another port on a local name for its own page (it is decided)', async () => {
    const h = await harness();
    const { step } = await http(h, PUPIL, 'http://127.0.0.1:8080/');
    expect(step.kind).toBe('answer');
    expect(h.audit.rows.map((r) => [r.action, r.host])).toEqual([['block', '127.0.0.1']]);
  });
});

describe('runHttp on the proxy port: hostile heads', () => {
  it.each([
    ['https in plain http', 'https://allowed.test/', 400, 'bad-request:https-in-http', 'allowed.test'],
    ['an empty label', 'http://a..b.test/x', 400, 'bad-request:empty-label', 'a..b.test'],
    [
      'userinfo',
      'http://allowed.test@blocked.example/',
      400,
      'bad-request:userinfo',
      'allowed.test@blocked.example',
    ],
    ['a bad port', 'http://allowed.test:99999/', 400, 'bad-request:bad-port', 'allowed.test:99999'],
    ['another scheme', 'ftp://allowed.test/', 400, 'bad-request:bad-scheme', 'allowed.test'],
    ['no host', 'http:///x', 400, 'bad-request:empty', ''],
    [
      'a backslash',
      'http://allowed.test\\@blocked.example/',
      400,
      'bad-request:bad-url',
      'allowed.test\\@blocked.example',
    ],
  ])(
    'rejects %s: status, a reject row with what was seen, closed',
    async (_what, target, status, reason, host) => {
      const h = await harness();
      const { step, ex, calls } = await http(h, PUPIL, target);
      expect(step).toMatchObject({ kind: 'answer', answer: { status, close: true } });
      if (step.kind === 'answer') expect(step.answer.body).toContain(ex.id);
      expect(calls).toEqual({ readBody: 0, readForm: 0, closing: 1 });
      expect(h.audit.rows.map(summary)).toEqual([
        {
          ...request,
          action: 'reject',
          reason,
          host,
          port: null,
          path: target,
          user: null,
          profile: null,
          categories: [],
          status,
        },
      ]);
    },
  );

  it.each([
    [{ status: 400, reason: 'bad-request:duplicate-host' }],
    [{ status: 400, reason: 'bad-request:transfer-encoding' }],
    [{ status: 431, reason: 'bad-request:too-many-headers' }],
    [{ status: 505, reason: 'bad-request:http-version' }],
  ] as const)(
    'rejects a raw failure the parser let through (%o), even for an allowed target',
    async (rawFailure) => {
      const h = await harness();
      const { step } = await http(h, PUPIL, 'http://allowed.test/', { over: { rawFailure } });
      expect(step).toMatchObject({ kind: 'answer', answer: { status: rawFailure.status, close: true } });
      expect(h.audit.rows.map((r) => [r.action, r.reason, r.host, r.status])).toEqual([
        ['reject', rawFailure.reason, 'allowed.test', rawFailure.status],
      ]);
    },
  );

  it('rejects a raw failure even when the target is the proxy’s own page', async () => {
    const h = await harness();
    const { step } = await http(h, PUPIL, '/healthz', {
      over: { rawFailure: { status: 400, reason: 'bad-request:duplicate-host' } },
    });
    expect(step).toMatchObject({ kind: 'answer', answer: { status: 400, close: true } });
    expect(h.audit.rows.map((r) => r.reason)).toEqual(['bad-request:duplicate-host']);
  });

  it('refuses a client outside clientNetworks before saying anything about its bad target', async () => {
    const h = await harness();
    const { step } = await http(h, OUTSIDE, 'http://a..b.test/');
    expect(step).toMatchObject({ kind: 'answer', answer: { status: 403, close: true } });
    expect(h.audit.rows.map((r) => [r.action, r.reason, r.host])).toEqual([
      ['refused', 'client-network', 'a..b.test'],
    ]);
  });

  it('a Host header on the proxy port never decides: the absolute target does', async () => {
    const h = await harness();
    const { step } = await http(h, PUPIL, 'http://allowed.test/', { host: 'blocked.example' });
    expect(step.kind).toBe('forward');
    expect(h.audit.rows.map((r) => [r.action, r.host])).toEqual([['allow', 'allowed.test']]);
  });
});

describe('runHttp: a name server that does not answer', () => {
  const silentDns = () => new Promise<never>(() => {});

  it('answers 504 with a page naming the host, and the row says upstream:lookup-timeout', async () => {
    const h = await harness({ lookupAll: silentDns });
    const { step, ex } = await http(h, PUPIL, 'http://slow-dns.example/page');
    expect(step).toMatchObject({ kind: 'answer', answer: { status: 504 } });
    if (step.kind === 'answer') expect(String(step.answer.body)).toContain('slow-dns.example');
    expect(h.audit.rows.map((r) => [r.id, r.action, r.reason, r.host])).toEqual([
      [ex.id, 'allow', 'upstream:lookup-timeout', 'slow-dns.example'],
    ]);
  });
});
