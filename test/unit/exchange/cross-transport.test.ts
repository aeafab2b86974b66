/**
 * Properties that must hold across transports: the same bad Host or target gets the same reject reason on
 * the http, inner and upgrade paths, and a store that cannot commit gets 503 everywhere, nothing forwarded.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { RawFailure, TunnelContext } from '../../../src/exchange/types.js';
import { signGrant } from '../../../src/proxy/warn-token.js';
import {
  closeHarnesses,
  connect,
  harness,
  http,
  NOW,
  openTunnel,
  OUTSIDE,
  PUPIL,
  STAFF,
  upgrade,
  type Harness,
} from './playbook.js';

afterEach(closeHarnesses);

type Path = 'http' | 'upgrade' | 'inner' | 'inner-upgrade';
const PATHS: Path[] = ['http', 'upgrade', 'inner', 'inner-upgrade'];

/**
 * Sends a request for `authority` + `path` the way each transport carries it: absolute-form on the proxy
 * port, origin-form plus Host inside a tunnel. Returns the answer status and the committed row's reason.
 */
async function send(
  h: Harness,
  via: Path,
  authority: string,
  opts: { path?: string; rawFailure?: RawFailure; tunnel?: TunnelContext; client?: string } = {},
): Promise<{ kind: string; status: number | undefined; close: boolean | undefined; reasons: string[] }> {
  const path = opts.path ?? '/p';
  const client = opts.client ?? PUPIL;
  const over = opts.rawFailure ? { rawFailure: opts.rawFailure } : {};
  const before = h.audit.rows.length;
  let step;
  switch (via) {
    case 'http':
      step = (await http(h, client, `http://${authority}${path}`, { over })).step;
      break;
    case 'upgrade':
      step = (await upgrade(h, client, `http://${authority}${path}`, { over })).step;
      break;
    case 'inner':
      step = (await http(h, client, path, { host: authority, tunnel: opts.tunnel!, over })).step;
      break;
    case 'inner-upgrade':
      step = (await upgrade(h, client, path, { host: authority, tunnel: opts.tunnel!, over })).step;
      break;
  }
  return {
    kind: step.kind,
    status: step.kind === 'answer' ? step.answer.status : undefined,
    close: step.kind === 'answer' ? step.answer.close : undefined,
    reasons: h.audit.rows.slice(before).map((r) => r.reason),
  };
}

async function withTunnel(): Promise<{ h: Harness; tunnel: TunnelContext }> {
  const h = await harness({ inspectionReady: true });
  const { context } = await openTunnel(h, PUPIL, 'allowed.test:443', 'allowed.test');
  return { h, tunnel: context };
}

describe('the same bad Host or target gets the same reject reason on every path', () => {
  it.each([
    ['an empty label', 'a..b.test', 'bad-request:empty-label'],
    ['two trailing dots', 'allowed.test..', 'bad-request:empty-label'],
    ['a port out of range', 'allowed.test:99999', 'bad-request:bad-port'],
    ['a port that is not a number', 'allowed.test:8o', 'bad-request:bad-port'],
    ['an unclosed IPv6 literal', '[::1', 'bad-request:bad-ip'],
    ['an unbracketed IPv6 address', '1:2:3', 'bad-request:bad-host'],
    ['text after an IPv6 literal', '[::1]x', 'bad-request:bad-host'],
    ['a label of 64 characters', `${'a'.repeat(64)}.test`, 'bad-request:too-long'],
    ['bad punycode', 'xn--a.test', 'bad-request:bad-idn'],
    ['an empty host', '', 'bad-request:empty'],
    ['userinfo (allowed name @ blocked name)', 'allowed.test@blocked.example', 'bad-request:userinfo'],
    ['a backslash', 'allowed.test\\blocked.example', 'bad-request:bad-url'],
  ])('%s (%j) → %s', async (_what, authority, reason) => {
    const { h, tunnel } = await withTunnel();
    const seen: Record<string, unknown> = {};
    for (const via of PATHS) seen[via] = await send(h, via, authority, { tunnel });
    const expected = { kind: 'answer', status: 400, close: true, reasons: [reason] };
    expect(seen).toEqual({ http: expected, upgrade: expected, inner: expected, 'inner-upgrade': expected });
  });

  it.each([
    [{ status: 400, reason: 'bad-request:duplicate-host' }],
    [{ status: 400, reason: 'bad-request:transfer-encoding' }],
    [{ status: 431, reason: 'bad-request:too-many-headers' }],
  ] as const)('a raw failure %o → the same status and reason on every path', async (rawFailure) => {
    const { h, tunnel } = await withTunnel();
    const seen: Record<string, unknown> = {};
    for (const via of PATHS) seen[via] = await send(h, via, 'allowed.test', { tunnel, rawFailure });
    const expected = { kind: 'answer', status: rawFailure.status, close: true, reasons: [rawFailure.reason] };
    expect(seen).toEqual({ http: expected, upgrade: expected, inner: expected, 'inner-upgrade': expected });
  });

  it('a good Host gets the same decision on every path (allowed → forward/relay, blocked → 403)', async () => {
    const { h, tunnel } = await withTunnel();
    const allowed: Record<string, string> = {};
    const blocked: Record<string, unknown> = {};
    for (const via of PATHS) {
      const port = via.startsWith('inner') ? '' : ':80';
      allowed[via] = (await send(h, via, `allowed.test${port}`, { tunnel })).kind;
      blocked[via] = await send(h, via, 'bet.test', { tunnel });
    }
    expect(allowed).toEqual({
      http: 'forward',
      upgrade: 'relay',
      inner: 'forward',
      'inner-upgrade': 'relay',
    });
    const expected = { kind: 'answer', status: 403, reasons: ['category'] };
    for (const via of PATHS) expect(blocked[via]).toMatchObject(expected);
  });
});

describe('an audit store that cannot commit: 503 on every path, nothing forwarded', () => {
  it.each(PATHS)('%s: an allowed request gets 503 and closes', async (via) => {
    const { h, tunnel } = await withTunnel();
    h.audit.failing = true;
    const before = h.audit.rows.length;
    const result = await send(h, via, 'allowed.test', { tunnel });
    expect(result).toEqual({ kind: 'answer', status: 503, close: true, reasons: [] });
    expect(h.audit.rows.length).toBe(before);
  });

  it.each(PATHS)('%s: a blocked request gets 503, never its block page', async (via) => {
    const { h, tunnel } = await withTunnel();
    h.audit.failing = true;
    expect(await send(h, via, 'bet.test', { tunnel })).toEqual({
      kind: 'answer',
      status: 503,
      close: true,
      reasons: [],
    });
  });

  it.each(PATHS)('%s: a malformed request gets 503 and closes', async (via) => {
    const { h, tunnel } = await withTunnel();
    h.audit.failing = true;
    expect(await send(h, via, 'a..b.test', { tunnel })).toEqual({
      kind: 'answer',
      status: 503,
      close: true,
      reasons: [],
    });
  });

  it('http: a warned request gets 503, never a warn page with a Continue token', async () => {
    const h = await harness();
    h.audit.failing = true;
    const { step } = await http(h, STAFF, 'http://social.test/');
    expect(step).toMatchObject({ kind: 'answer', answer: { status: 503, close: true } });
    if (step.kind === 'answer') expect(step.answer.body).not.toContain('name="token"');
  });

  it('CONNECT: an allowed raw tunnel gets 503 and hands back the upstream connection to discard', async () => {
    const h = await harness({ inspectionReady: false });
    h.audit.failing = true;
    const { step, connects } = await connect(h, PUPIL, 'allowed.test:443');
    expect(step).toEqual({
      kind: 'answer',
      answer: expect.objectContaining({ status: 503, close: true }),
      discard: { token: 'upstream', address: '127.0.0.1', port: 443 },
    });
    expect(connects).toHaveLength(1);
  });

  it.each([
    ['an inspected allowed host', PUPIL, 'allowed.test:443'],
    ['a block-page tunnel', PUPIL, 'blocked.example:443'],
    ['a warned host', STAFF, 'social.test:443'],
    ['a malformed authority', PUPIL, 'allowed.test'],
  ])('CONNECT: %s gets 503, never opened', async (_what, client, authority) => {
    const h = await harness({ inspectionReady: true });
    h.audit.failing = true;
    const { step, connects } = await connect(h, client, authority);
    expect(step).toMatchObject({ kind: 'answer', answer: { status: 503, close: true } });
    expect(step).not.toHaveProperty('discard');
    expect(connects).toEqual([]);
  });

  it('Continue: a valid token the store cannot record gets 503 and grants nothing', async () => {
    const h = await harness();
    h.audit.failing = true;
    const token = signGrant(h.tokenKey, {
      subject: `ip:${STAFF}`,
      site: 'social.test',
      expiresAt: new Date(NOW.getTime() + 3_600_000),
    });
    const form = new URLSearchParams({ token, site: 'social.test', url: 'http://social.test/' }).toString();
    const { step } = await http(h, STAFF, 'http://social.test/.schoolgate/continue', {
      method: 'POST',
      io: { form },
    });
    expect(h.grants.has(`ip:${STAFF}`, 'social.test', NOW)).toBe(false);
    expect(step).toMatchObject({ kind: 'answer', answer: { status: 503, close: true } });
  });

  it('self-report: a report the store cannot record gets 503', async () => {
    const h = await harness();
    h.audit.failing = true;
    const { step } = await http(h, PUPIL, 'http://blocked.example/.schoolgate/report', {
      method: 'POST',
      io: { form: 'reference=0198c2d4-1a2b-7c3d-8e4f-0123456789ab' },
    });
    expect(step).toMatchObject({ kind: 'answer', answer: { status: 503, close: true } });
  });

  it.each(['http', 'upgrade', 'connect', 'connect (malformed)'] as const)(
    'a client outside clientNetworks gets the same answer on %s when the refusal cannot be recorded',
    async (via) => {
      const h = await harness();
      h.audit.failing = true;
      let status: number | undefined;
      if (via === 'http') status = (await send(h, 'http', 'allowed.test', { client: OUTSIDE })).status;
      else if (via === 'upgrade')
        status = (await send(h, 'upgrade', 'allowed.test', { client: OUTSIDE })).status;
      else {
        const { step } = await connect(h, OUTSIDE, via === 'connect' ? 'allowed.test:443' : 'allowed.test');
        status = step.kind === 'answer' ? step.answer.status : undefined;
      }
      // Fail closed: a refusal that could not be recorded is answered like any other uncommitted row.
      expect(status).toBe(503);
    },
  );
});
