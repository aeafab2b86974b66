/** Playbooks for WebSocket upgrades on the proxy port (runUpgrade without a tunnel). */
import { afterEach, describe, expect, it } from 'vitest';
import { closeHarnesses, harness, OUTSIDE, PROXY_PORT, PUPIL, STAFF, summary, upgrade } from './playbook.js';

afterEach(closeHarnesses);

describe('runUpgrade on the proxy port', () => {
  it('relays an allowed websocket to the checked address with the client’s raw path, row status 101', async () => {
    const h = await harness();
    const { step, ex } = await upgrade(h, PUPIL, 'http://allowed.test:8080/chat//room?id=%41#frag');
    expect(step).toEqual({
      kind: 'relay',
      target: {
        scheme: 'http',
        host: 'allowed.test',
        hostKind: 'domain',
        port: 8080,
        path: '/chat/room?id=A',
      },
      address: '127.0.0.1',
      rawPath: '/chat//room?id=%41',
    });
    expect(h.audit.rows.map(summary)).toEqual([
      {
        kind: 'request',
        method: 'GET',
        scheme: 'http',
        clientIp: PUPIL,
        action: 'allow',
        reason: 'default',
        host: 'allowed.test',
        port: 8080,
        path: '/chat/room?id=A',
        user: null,
        profile: 'pupil',
        categories: [],
        status: 101,
      },
    ]);
    expect(h.audit.rows[0]!.id).toBe(ex.id);
  });

  it('answers a blocked upgrade 403 and closes', async () => {
    const h = await harness();
    const { step, ex } = await upgrade(h, PUPIL, 'http://blocked.example/ws');
    expect(step).toMatchObject({ kind: 'answer', answer: { status: 403, close: true } });
    if (step.kind === 'answer') expect(step.answer.body).toContain(ex.id);
    expect(h.audit.rows.map((r) => [r.action, r.reason, r.categories, r.status])).toEqual([
      ['block', 'category', ['adult'], 403],
    ]);
  });

  it('refuses a warned upgrade as a block: a warn page cannot stand in for a WebSocket', async () => {
    const h = await harness();
    const { step } = await upgrade(h, STAFF, 'http://social.test/ws');
    expect(step).toMatchObject({ kind: 'answer', answer: { status: 403, close: true } });
    expect(h.audit.rows.map((r) => [r.action, r.reason, r.profile, r.categories])).toEqual([
      ['block', 'category', 'staff', ['social']],
    ]);
  });

  it('answers a warned upgrade (recorded as a block) without a Continue form or token', async () => {
    const h = await harness();
    const { step } = await upgrade(h, STAFF, 'http://social.test/ws');
    expect(step.kind).toBe('answer');
    if (step.kind !== 'answer') return;
    // The row says 'block'; the answer must not be a warn page that hands out a signed Continue token.
    expect(step.answer.body).not.toContain('name="token"');
    expect(step.answer.body).not.toContain('/.schoolgate/continue');
  });

  it.each(['h2c', '', 'websocket, h2c', 'tls/1.0'])(
    'rejects upgrade protocol %j (only websocket is relayed), even to an allowed host',
    async (protocol) => {
      const h = await harness();
      const { step } = await upgrade(h, PUPIL, 'http://allowed.test/', { protocol });
      expect(step).toMatchObject({ kind: 'answer', answer: { status: 400, close: true } });
      expect(h.audit.rows.map((r) => [r.action, r.reason, r.host, r.path, r.status])).toEqual([
        ['reject', 'bad-request:upgrade-protocol', 'allowed.test', '/', 400],
      ]);
    },
  );

  it.each([
    ['origin-form', '/socket'],
    ['its own name', `http://schoolgate.local:${PROXY_PORT}/socket`],
  ])(
    'rejects an upgrade addressed to the proxy itself (%s): own pages are never upgraded',
    async (_what, target) => {
      const h = await harness();
      const { step } = await upgrade(h, PUPIL, target);
      expect(step).toMatchObject({ kind: 'answer', answer: { status: 400, close: true } });
      expect(h.audit.rows.map((r) => [r.action, r.reason, r.host, r.path])).toEqual([
        ['reject', 'bad-request:upgrade-target', '', target],
      ]);
    },
  );

  it('refuses a client outside clientNetworks before looking at the protocol', async () => {
    const h = await harness();
    const { step } = await upgrade(h, OUTSIDE, 'http://allowed.test/', { protocol: 'h2c' });
    expect(step).toMatchObject({ kind: 'answer', answer: { status: 403, close: true } });
    expect(h.audit.rows.map((r) => [r.action, r.reason, r.host])).toEqual([
      ['refused', 'client-network', 'allowed.test'],
    ]);
  });

  it('rejects a raw failure (duplicate Host) of an upgrade', async () => {
    const h = await harness();
    const { step } = await upgrade(h, PUPIL, 'http://allowed.test/', {
      over: { rawFailure: { status: 400, reason: 'bad-request:duplicate-host' } },
    });
    expect(step).toMatchObject({ kind: 'answer', answer: { status: 400, close: true } });
    expect(h.audit.rows.map((r) => [r.action, r.reason])).toEqual([['reject', 'bad-request:duplicate-host']]);
  });

  it('blocks an upgrade to a port outside httpPorts', async () => {
    const h = await harness();
    const { step } = await upgrade(h, PUPIL, 'http://allowed.test:6667/');
    expect(step).toMatchObject({ kind: 'answer', answer: { status: 403, close: true } });
    expect(h.audit.rows.map((r) => [r.action, r.reason, r.port])).toEqual([['block', 'port', 6667]]);
  });
});
