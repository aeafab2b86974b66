/**
 * Sign-in and sign-out. A new session id at every sign-in (no fixation); the cookie is httpOnly, Secure,
 * SameSite=Strict and __Host- prefixed (no Domain, Path=/), so no other site or subdomain can set or read
 * it. Every attempt is recorded in console_signins; sign-in is rate-limited per address on top of the
 * per-account lock-out.
 */
import type { FastifyInstance } from 'fastify';
import { html } from '../../proxy/pages/html.js';
import { csrfField, message } from '../pages/layout.js';
import { SESSION_COOKIE, sendPage, sessionOf, type ConsoleContext } from '../context.js';
import type { Role } from '../accounts.js';

export const HOME: Record<Role, string> = {
  dsl: '/alerts',
  headteacher: '/cases',
  technician: '/status',
  auditor: '/access-log',
};

const REFUSED: Record<string, string> = {
  locked: 'This account is locked after too many failed sign-ins. Try again later, or ask the technician.',
  'bad-code': 'The name, password or code is wrong.',
  'bad-credentials': 'The name, password or code is wrong.',
  'no-account': 'The name, password or code is wrong.',
};

function form(csrf: string, error: string | null) {
  return html`${error ? message(error) : ''}
    <form method="post" action="/sign-in">
      ${csrfField(csrf)}
      <label for="name">Name</label>
      <input id="name" name="name" type="text" autocomplete="username" required />
      <label for="password">Password</label>
      <input id="password" name="password" type="password" autocomplete="current-password" required />
      <label for="code">Code from your authenticator app (not needed for technicians)</label>
      <input id="code" name="code" type="text" inputmode="numeric" autocomplete="one-time-code" />
      <button type="submit">Sign in</button>
    </form>`;
}

export function signInRoutes(app: FastifyInstance, ctx: ConsoleContext): void {
  const cookieOpts = { path: '/', httpOnly: true, secure: true, sameSite: 'strict' as const };

  app.get('/', async (req, reply) => {
    const s = sessionOf(ctx, req);
    return reply
      .code(303)
      .header('location', s ? HOME[s.role] : '/sign-in')
      .send();
  });

  app.get('/sign-in', async (_req, reply) =>
    sendPage(reply, 200, 'Sign in', form(reply.generateCsrf(), null), null),
  );

  app.post(
    '/sign-in',
    {
      preHandler: app.csrfProtection,
      config: { rateLimit: { max: ctx.config.console.signInsPerMinute, timeWindow: '1 minute' } },
    },
    async (req, reply) => {
      const body = (req.body ?? {}) as Record<string, unknown>;
      const text = (k: string) => (typeof body[k] === 'string' ? (body[k] as string) : '').slice(0, 256);
      const name = text('name').trim();
      const now = ctx.now();
      const { lockAfterFailures, lockMinutes } = ctx.config.console;
      const result = await ctx.accounts.signIn(
        name,
        text('password'),
        text('code').trim(),
        { lockAfterFailures, lockMinutes },
        now,
      );
      const clientIp = req.socket.remoteAddress ?? '?';
      // A planted or old id never survives a sign-in attempt.
      ctx.sessions.end(req.cookies[SESSION_COOKIE]);
      if (!result.ok) {
        ctx.accounts.recordSignIn({
          at: now,
          name: name || '(empty)',
          clientIp,
          outcome: result.reason === 'locked' ? 'locked' : 'failed',
          reason: result.reason,
        });
        reply.clearCookie(SESSION_COOKIE, cookieOpts);
        return sendPage(reply, 401, 'Sign in', form(reply.generateCsrf(), REFUSED[result.reason]!), null);
      }
      const session = ctx.sessions.create(result.account.name, result.account.role);
      ctx.accounts.recordSignIn({ at: now, name, clientIp, outcome: 'signed-in' });
      reply.setCookie(SESSION_COOKIE, session.id, cookieOpts);
      return reply.code(303).header('location', HOME[session.role]).send();
    },
  );

  app.post('/sign-out', { preHandler: app.csrfProtection }, async (req, reply) => {
    const s = sessionOf(ctx, req);
    if (s)
      ctx.accounts.recordSignIn({
        at: ctx.now(),
        name: s.name,
        clientIp: req.socket.remoteAddress ?? '?',
        outcome: 'signed-out',
      });
    ctx.sessions.end(req.cookies[SESSION_COOKIE]);
    reply.clearCookie(SESSION_COOKIE, cookieOpts);
    return reply.code(303).header('location', '/sign-in').send();
  });
}
