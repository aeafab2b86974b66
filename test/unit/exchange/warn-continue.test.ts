/** Playbooks for warn → Continue → continued, and the self-report action, on the proxy port and in tunnels. */
import { afterEach, describe, expect, it } from 'vitest';
import { signGrant } from '../../../src/proxy/warn-token.js';
import {
  closeHarnesses,
  harness,
  http,
  NOW,
  openTunnel,
  PUPIL,
  STAFF,
  summary,
  warnFields,
  type Harness,
} from './playbook.js';

afterEach(closeHarnesses);

const HOUR = 3_600_000;

function token(
  h: Harness,
  site: string,
  subject = `ip:${STAFF}`,
  expiresAt = new Date(NOW.getTime() + HOUR),
) {
  return signGrant(h.tokenKey, { subject, site, expiresAt });
}

function form(fields: Record<string, string>): string {
  return new URLSearchParams(fields).toString();
}

async function postContinue(h: Harness, host: string, fields: Record<string, string>, client = STAFF) {
  return http(h, client, `http://${host}/.schoolgate/continue`, {
    method: 'POST',
    io: { form: form(fields) },
  });
}

describe('warn and Continue on the proxy port', () => {
  it('warn page → Continue with its own form → 303 and a grant → the next request is continued', async () => {
    const h = await harness();
    const warned = await http(h, STAFF, 'http://social.test/feed?page=2');
    if (warned.step.kind !== 'answer') throw new Error('not warned');
    const fields = warnFields(warned.step.answer.body);

    const pressed = await postContinue(h, 'social.test', fields);
    expect(pressed.step).toEqual({
      kind: 'answer',
      answer: {
        status: 303,
        body: '',
        headers: { location: 'http://social.test/feed?page=2', 'cache-control': 'no-store' },
      },
    });
    expect(pressed.calls.readForm).toBe(1);
    expect(h.grants.has(`ip:${STAFF}`, 'social.test', NOW)).toBe(true);

    const next = await http(h, STAFF, 'http://social.test/other');
    expect(next.step).toMatchObject({ kind: 'forward', address: '127.0.0.1', rawPath: '/other' });
    expect(h.audit.rows.map(summary)).toEqual([
      expect.objectContaining({ action: 'warn', reason: 'category', host: 'social.test', status: 403 }),
      {
        kind: 'request',
        method: 'POST',
        scheme: 'http',
        clientIp: STAFF,
        action: 'continue',
        reason: `continue:${warned.ex.id}`,
        host: 'social.test',
        port: 80,
        path: '/.schoolgate/continue',
        user: null,
        profile: 'staff',
        categories: [],
        status: 303,
      },
      {
        kind: 'request',
        method: 'GET',
        scheme: 'http',
        clientIp: STAFF,
        action: 'continued',
        reason: 'category',
        host: 'social.test',
        port: 80,
        path: '/other',
        user: null,
        profile: 'staff',
        categories: ['social'],
        status: null,
      },
    ]);
  });

  it('accepts a token signed with the env’s key (signGrant) and grants a subdomain’s request too', async () => {
    const h = await harness();
    const pressed = await postContinue(h, 'www.facebook.com', {
      token: token(h, 'facebook.com'),
      site: 'facebook.com',
      url: 'http://www.facebook.com/x',
    });
    expect(pressed.step).toMatchObject({ kind: 'answer', answer: { status: 303 } });
    // The warn for m.facebook.com is the same list entry: the grant covers it.
    const next = await http(h, STAFF, 'http://facebook.com/');
    expect(next.step.kind).toBe('forward');
    expect(h.audit.rows.map((r) => [r.action, r.reason])).toEqual([
      ['continue', 'continue:'],
      ['continued', 'category'],
    ]);
  });

  it('grants only the Continue’s subject: another client on the same site is still warned', async () => {
    const h = await harness();
    await postContinue(h, 'social.test', { token: token(h, 'social.test'), site: 'social.test' });
    const other = await http(h, '10.2.9.9', 'http://social.test/');
    expect(other.step).toMatchObject({ kind: 'answer', answer: { status: 403 } });
    expect(h.audit.rows.map((r) => r.action)).toEqual(['continue', 'warn']);
  });

  it('never turns a block into a continue: a granted site that the profile blocks stays blocked', async () => {
    const h = await harness();
    await postContinue(
      h,
      'social.test',
      { token: token(h, 'social.test', `ip:${PUPIL}`), site: 'social.test' },
      PUPIL,
    );
    const next = await http(h, PUPIL, 'http://social.test/');
    expect(next.step).toMatchObject({ kind: 'answer', answer: { status: 403 } });
    expect(h.audit.rows.map((r) => r.action)).toEqual(['continue', 'block']);
  });

  it('redirects only to an address on the granted host (no open redirect)', async () => {
    const h = await harness();
    const pressed = await postContinue(h, 'social.test', {
      token: token(h, 'social.test'),
      site: 'social.test',
      url: 'http://evil.test/phish',
    });
    expect(pressed.step).toMatchObject({
      kind: 'answer',
      answer: { status: 303, headers: { location: 'http://social.test/' } },
    });
  });

  it('keeps only a well-formed reference in the continue row', async () => {
    const h = await harness();
    await postContinue(h, 'social.test', {
      token: token(h, 'social.test'),
      site: 'social.test',
      ref: 'see <script>',
    });
    expect(h.audit.rows.map((r) => r.reason)).toEqual(['continue:']);
  });

  it.each([
    ['a GET', { method: 'GET' }, 'continue:method'],
    ['no readable form', { form: null }, 'continue:form'],
    ['a site other than the host posted to', { site: 'other.test' }, 'continue:wrong-site'],
    ['a parent site’s suffix trick', { site: 'ocial.test' }, 'continue:wrong-site'],
    ['a token for another client', { subject: 'ip:10.2.0.8' }, 'continue:wrong-subject'],
    ['a token for another site', { tokenSite: 'facebook.com' }, 'continue:wrong-site'],
    ['an expired token', { expired: true }, 'continue:expired'],
    ['a token signed with another key', { otherKey: true }, 'continue:bad-signature'],
    ['a malformed token', { raw: 'not-a-token' }, 'continue:malformed'],
  ] as const)('refuses a Continue with %s: 400, a reject row, no grant', async (_what, bad, reason) => {
    const h = await harness();
    const o = bad as {
      method?: string;
      form?: null;
      site?: string;
      subject?: string;
      tokenSite?: string;
      expired?: boolean;
      otherKey?: boolean;
      raw?: string;
    };
    const site = o.site ?? 'social.test';
    const key = o.otherKey ? Buffer.alloc(32, 7) : h.tokenKey;
    const t =
      o.raw ??
      signGrant(key, {
        subject: o.subject ?? `ip:${STAFF}`,
        site: o.tokenSite ?? site,
        expiresAt: new Date(NOW.getTime() + (o.expired ? -1 : HOUR)),
      });
    const { step, ex } = await http(h, STAFF, 'http://social.test/.schoolgate/continue', {
      method: o.method ?? 'POST',
      io: { form: 'form' in o ? null : form({ token: t, site }) },
    });
    expect(step).toMatchObject({ kind: 'answer', answer: { status: 400, close: true } });
    if (step.kind === 'answer') expect(step.answer.body).toContain(ex.id);
    expect(h.grants.has(`ip:${STAFF}`, site, NOW)).toBe(false);
    expect(h.grants.has(`ip:${STAFF}`, 'social.test', NOW)).toBe(false);
    expect(h.audit.rows.map(summary)).toEqual([
      {
        kind: 'request',
        method: o.method ?? 'POST',
        scheme: 'http',
        clientIp: STAFF,
        action: 'reject',
        reason,
        host: 'social.test',
        port: 80,
        path: '/.schoolgate/continue',
        user: null,
        profile: null,
        categories: [],
        status: 400,
      },
    ]);
  });
});

describe('a warn from a URL-prefix entry (allowed.test/videos, staff)', () => {
  it('warns with the entry as the site, accepts a Continue for it, and continues requests under it', async () => {
    const h = await harness();
    const warned = await http(h, STAFF, 'http://allowed.test/videos/intro');
    if (warned.step.kind !== 'answer') throw new Error('not warned');
    expect(warned.step.answer.status).toBe(403);
    const fields = warnFields(warned.step.answer.body);
    expect(fields.site).toBe('allowed.test/videos');

    const pressed = await postContinue(h, 'allowed.test', fields);
    expect(pressed.step).toMatchObject({
      kind: 'answer',
      answer: { status: 303, headers: { location: 'http://allowed.test/videos/intro' } },
    });
    expect(h.grants.has(`ip:${STAFF}`, 'allowed.test/videos', NOW)).toBe(true);

    const next = await http(h, STAFF, 'http://allowed.test/videos/x');
    expect(next.step.kind).toBe('forward');
    expect(h.audit.rows.map((r) => [r.action, r.reason, r.path, r.categories])).toEqual([
      ['warn', 'category', '/videos/intro', ['streaming']],
      ['continue', `continue:${warned.ex.id}`, '/.schoolgate/continue', []],
      ['continued', 'category', '/videos/x', ['streaming']],
    ]);
  });

  it('accepts a signGrant token for the prefix site (303, not continue:wrong-site)', async () => {
    const h = await harness();
    const pressed = await postContinue(h, 'allowed.test', {
      token: token(h, 'allowed.test/videos'),
      site: 'allowed.test/videos',
    });
    expect(pressed.step).toMatchObject({ kind: 'answer', answer: { status: 303 } });
    expect(h.audit.rows.map((r) => r.reason)).toEqual(['continue:']);
    const next = await http(h, STAFF, 'http://allowed.test/videos/x');
    expect(next.step.kind).toBe('forward');
    expect(h.audit.rows.map((r) => r.action)).toEqual(['continue', 'continued']);
  });

  it('refuses a Continue for the prefix site posted to another host', async () => {
    const h = await harness();
    const pressed = await postContinue(h, 'social.test', {
      token: token(h, 'allowed.test/videos'),
      site: 'allowed.test/videos',
    });
    expect(pressed.step).toMatchObject({ kind: 'answer', answer: { status: 400 } });
    expect(h.audit.rows.map((r) => r.reason)).toEqual(['continue:wrong-site']);
  });
});

describe('warn and Continue inside an intercepted tunnel', () => {
  it('warns an inner request, takes the Continue inside the tunnel, then continues, all kind inspected', async () => {
    const h = await harness({ inspectionReady: true });
    const { context, ex: tunnel } = await openTunnel(h, STAFF, 'social.test:443', 'social.test');
    expect(h.audit.row(tunnel.id)).toMatchObject({
      action: 'allow',
      reason: 'inspect:category',
      kind: 'tunnel',
    });

    const warned = await http(h, STAFF, '/feed', { host: 'social.test', tunnel: context });
    if (warned.step.kind !== 'answer') throw new Error('not warned');
    const fields = warnFields(warned.step.answer.body);
    expect(fields).toMatchObject({ site: 'social.test', url: 'https://social.test/feed', ref: warned.ex.id });

    const pressed = await http(h, STAFF, '/.schoolgate/continue', {
      method: 'POST',
      host: 'social.test',
      tunnel: context,
      io: { form: form(fields) },
    });
    expect(pressed.step).toMatchObject({
      kind: 'answer',
      answer: { status: 303, headers: { location: 'https://social.test/feed' } },
    });
    const next = await http(h, STAFF, '/feed', { host: 'social.test', tunnel: context });
    expect(next.step).toMatchObject({ kind: 'forward', target: { scheme: 'https', port: 443 } });
    expect(h.audit.rows.slice(1).map((r) => [r.action, r.kind, r.scheme, r.port])).toEqual([
      ['warn', 'inspected', 'https', 443],
      ['continue', 'inspected', 'https', 443],
      ['continued', 'inspected', 'https', 443],
    ]);
  });
});

describe('self-report ("I reached this by accident")', () => {
  it('records a self-report row linked to the block by reference, with the comment as note', async () => {
    const h = await harness();
    const blocked = await http(h, PUPIL, 'http://blocked.example/page');
    if (blocked.step.kind !== 'answer') throw new Error('not blocked');
    const reported = await http(h, PUPIL, 'http://blocked.example/.schoolgate/report', {
      method: 'POST',
      io: { form: form({ reference: blocked.ex.id, comment: 'a link in a game chat' }) },
    });
    expect(reported.step).toMatchObject({ kind: 'answer', answer: { status: 200 } });
    if (reported.step.kind === 'answer') {
      expect(reported.step.answer.body).toContain(blocked.ex.id);
      expect(reported.step.answer.body).toContain(reported.ex.id);
    }
    expect(h.audit.rows.map(summary)).toEqual([
      expect.objectContaining({ action: 'block', host: 'blocked.example' }),
      {
        kind: 'request',
        method: 'POST',
        scheme: 'http',
        clientIp: PUPIL,
        action: 'self-report',
        reason: `self-report:${blocked.ex.id}`,
        host: 'blocked.example',
        port: 80,
        path: '/.schoolgate/report',
        user: null,
        profile: 'pupil',
        categories: [],
        status: 200,
        note: 'a link in a game chat',
      },
    ]);
  });

  it('records a self-report inside a block-page tunnel (its own paths aside), kind inspected', async () => {
    const h = await harness({ inspectionReady: true });
    const { context } = await openTunnel(h, PUPIL, 'blocked.example:443', 'blocked.example');
    const blocked = await http(h, PUPIL, '/', { host: 'blocked.example', tunnel: context });
    const reported = await http(h, PUPIL, '/.schoolgate/report', {
      method: 'POST',
      host: 'blocked.example',
      tunnel: context,
      io: { form: form({ reference: blocked.ex.id }) },
    });
    expect(reported.step).toMatchObject({ kind: 'answer', answer: { status: 200 } });
    expect(h.audit.row(reported.ex.id)).toMatchObject({
      action: 'self-report',
      reason: `self-report:${blocked.ex.id}`,
      kind: 'inspected',
      note: null,
    });
  });

  it.each([
    ['no reference', ''],
    ['free text as reference', 'reference=<b>hello</b>'],
  ])('rejects a report with %s: 400 and a reject row', async (_what, body) => {
    const h = await harness();
    const { step } = await http(h, PUPIL, 'http://blocked.example/.schoolgate/report', {
      method: 'POST',
      io: { form: body },
    });
    expect(step).toMatchObject({ kind: 'answer', answer: { status: 400, close: true } });
    expect(h.audit.rows.map((r) => [r.action, r.reason])).toEqual([['reject', 'self-report:form']]);
  });
});
