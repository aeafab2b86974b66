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
import type { Role, SignInRefusal } from '../accounts.js';

export const HOME: Record<Role, string> = {
  dsl: '/alerts',
  headteacher: '/cases',
  technician: '/status',
  auditor: '/access-log',
};

const WRONG = 'The name, password or code is wrong.';
const REFUSED: Record<SignInRefusal, [number, string]> = {
  locked: [
    401,
    'This account is locked after too many failed sign-ins. Try again later, or ask the technician.',
  ],
  'bad-code': [401, WRONG],
  'bad-credentials': [401, WRONG],
  'no-account': [401, WRONG],
  'directory-unavailable': [
    503,
    'The school directory cannot be reached, so directory sign-in is refused (SG_CONSOLE_DIRECTORY_UNAVAILABLE). Local console accounts still work; tell the technician.',
  ],
  'no-role': [
    403,
    'You are in none of the directory groups that give a console role. Ask the headteacher or the technician.',
  ],
  'several-roles': [
    403,
    'You are in the directory groups of more than one console role, so none is given. Ask the technician to leave you in one.',
  ],
  'not-enrolled': [
    403,
    'Your role needs a code from an authenticator app and you are not enrolled: ask the technician to run schoolgate console users enrol NAME --directory.',
  ],
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
      const policy = { lockAfterFailures, lockMinutes };
      const attempt = { name, password: text('password'), code: text('code').trim() };
      const local = ctx.accounts.get(name);
      // A local account signs in here whatever the directory's state; anyone else through the directory.
      const result =
        ctx.directory && (!local || local.directory)
          ? await ctx.directory.signIn(ctx.accounts, attempt, policy, now)
          : await ctx.accounts.signIn(name, attempt.password, attempt.code, policy, now);
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
        const [status, said] = REFUSED[result.reason];
        return sendPage(reply, status, 'Sign in', form(reply.generateCsrf(), said), null);
      }
      const session = ctx.sessions.create(
        result.account.name,
        result.account.role,
        result.account.site ?? null,
      );
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
