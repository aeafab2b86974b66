/**
 * The web console's HTTPS listener, started by `serve` beside the proxy. fastify with its own cookie,
 * CSRF, rate-limit and form-body plugins: each of those is a security control we would otherwise write and
 * get subtly wrong by hand, and fastify's error codes and hooks fit the way schoolgate already reports
 * errors. Server-rendered pages, no script, a strict CSP; only clients in console.networks get an answer.
 */
import cookie from '@fastify/cookie';
import csrf from '@fastify/csrf-protection';
import formbody from '@fastify/formbody';
import rateLimit from '@fastify/rate-limit';
import Fastify, { type FastifyError } from 'fastify';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { ReadonlyConfig } from '../config/load.js';
import { isSchoolgateError } from '../errors.js';
import { html } from '../proxy/pages/html.js';
import { openStateDatabase } from '../state/database.js';
import { ConsoleAccounts } from './accounts.js';
import { consoleTls } from './certificate.js';
import { DirectorySignIn, type ConsoleDirectoryStatus } from './directory-sign-in.js';
import { sendPage, sessionOf, viewerOf, type ConsoleContext } from './context.js';
import { ImportJobs } from './imports.js';
import { consoleNetworks, networkMatcher } from './networks.js';
import { CONSOLE_CSP, message } from './pages/layout.js';
import { auditorRoutes } from './routes/auditor.js';
import { dslRoutes } from './routes/dsl.js';
import { dslMoreRoutes } from './routes/dsl-more.js';
import { headteacherRoutes } from './routes/headteacher.js';
import { importRoutes } from './routes/imports.js';
import { reviewRoutes } from './routes/reviews.js';
import { holdRoutes } from './routes/holds.js';
import { signInRoutes } from './routes/sign-in.js';
import { technicianRoutes, type TechnicianDeps } from './routes/technician.js';
import { technicianMoreRoutes } from './routes/technician-more.js';
import { usersNetworksRoutes } from './routes/users-networks.js';
import { Sessions } from './sessions.js';

export interface ConsoleDeps {
  config: ReadonlyConfig;
  certsDir: string;
  logger: Logger;
  reload: () => Promise<unknown>;
  /** The running proxy's category matches for a URL (its current snapshot): the technician's find. */
  match: TechnicianDeps['match'];
  decide: TechnicianDeps['decide'];
  now?: () => number;
}

export interface RunningConsole {
  url: string;
  address: AddressInfo;
  /** The technician's imports (a test holds one mid-way to read its progress page). */
  imports: ImportJobs;
  /** Directory sign-in's reachability for `status` (null when console.directory is not set). */
  directoryStatus(): ConsoleDirectoryStatus | null;
  close(): Promise<void>;
}

const SECURITY_HEADERS: Record<string, string> = {
  'content-security-policy': CONSOLE_CSP,
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'strict-transport-security': 'max-age=31536000',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
};

export async function startConsole(deps: ConsoleDeps): Promise<RunningConsole> {
  const { config, logger } = deps;
  const host = config.console.host ?? config.listen.host;
  const tls = await consoleTls({
    certsDir: deps.certsDir,
    dataDir: config.dataDir,
    caName: config.tls.caName,
    name: config.console.name,
    host,
    validityDays: config.tls.leafValidityDays,
  });
  const consoleLogger = logger.child({ component: 'console' });
  // Before the database: a bind password file that cannot be read stops the console here (logged).
  const directory = DirectorySignIn.from(config, consoleLogger);
  const stateDb = openStateDatabase(config.dataDir);
  const now = deps.now ?? Date.now;
  const ctx: ConsoleContext = {
    config,
    logger: consoleLogger,
    now,
    accounts: new ConsoleAccounts(stateDb),
    sessions: new Sessions(
      { idleMs: config.console.idleMinutes * 60_000, absoluteMs: config.console.absoluteHours * 3_600_000 },
      now,
    ),
    reload: deps.reload,
    imports: new ImportJobs(consoleLogger, now),
    directory,
  };
  const allowed = networkMatcher(consoleNetworks(config));
  const app = Fastify({
    https: { key: tls.key, cert: tls.cert, SNICallback: tls.SNICallback, minVersion: 'TLSv1.2' },
    logger: false,
    bodyLimit: 64 * 1024,
    trustProxy: false,
  });
  try {
    await app.register(cookie);
    await app.register(csrf, {
      sessionPlugin: '@fastify/cookie',
      cookieKey: '__Host-sg-csrf',
      cookieOpts: { path: '/', httpOnly: true, secure: true, sameSite: 'strict' },
    });
    await app.register(formbody);
    await app.register(rateLimit, { global: false });
    app.addHook('onRequest', async (req, reply) => {
      for (const [k, v] of Object.entries(SECURITY_HEADERS)) reply.header(k, v);
      if (!allowed(req.socket.remoteAddress ?? ''))
        return reply
          .code(403)
          .type('text/plain')
          .send('forbidden: the console is served to console.networks only\n');
      return undefined;
    });
    app.setErrorHandler((err: FastifyError, req, reply) => {
      const session = sessionOf(ctx, req);
      const viewer = session ? viewerOf(session, reply) : null;
      if (err.code?.startsWith('FST_CSRF'))
        return sendPage(
          reply,
          403,
          'Form refused',
          message('This form has expired or came from another site. Open the page again and resend it.'),
          viewer,
        );
      if (err.statusCode === 413)
        return sendPage(
          reply,
          413,
          'Too large',
          html`${message(`The text sent is larger than this page takes (console.importMaxKiB is ${config.console.importMaxKiB} KiB).`)}
            <p class="note">
              Split it, or import it with the CLI on the server. (SG_CONSOLE_IMPORT_REFUSED)
            </p>`,
          viewer,
        );
      if (err.statusCode === 429)
        return sendPage(
          reply,
          429,
          'Too many attempts',
          message('Too many attempts from this address. Wait a minute and try again.'),
          viewer,
        );
      if (isSchoolgateError(err as unknown)) {
        const e = err as unknown as { code: string; message: string; suggestion?: string };
        const status = e.code === 'SG_REPORT_REFUSED' || e.code === 'SG_CONSOLE_FORBIDDEN' ? 403 : 400;
        return sendPage(
          reply,
          status,
          'Refused',
          html`${message(e.message)}
            <p class="note">${e.suggestion ?? ''} (${e.code})</p>`,
          viewer,
        );
      }
      if (err.statusCode && err.statusCode < 500)
        return sendPage(
          reply,
          err.statusCode,
          'Bad request',
          message('The request could not be read.'),
          viewer,
        );
      ctx.logger.error({ err }, 'console page failed');
      return sendPage(
        reply,
        500,
        'Something went wrong',
        message('The page failed; the error is in the log.'),
        viewer,
      );
    });
    app.setNotFoundHandler((req, reply) => {
      const session = sessionOf(ctx, req);
      return sendPage(
        reply,
        404,
        'Not found',
        message('There is no such page.'),
        session ? viewerOf(session, reply) : null,
      );
    });
    signInRoutes(app, ctx);
    dslRoutes(app, ctx);
    dslMoreRoutes(app, ctx);
    headteacherRoutes(app, ctx);
    technicianRoutes(app, ctx, { match: deps.match, decide: deps.decide });
    technicianMoreRoutes(app, ctx);
    usersNetworksRoutes(app, ctx);
    importRoutes(app, ctx);
    auditorRoutes(app, ctx);
    reviewRoutes(app, ctx);
    holdRoutes(app, ctx);
    await app.listen({ host, port: config.console.port });
  } catch (err) {
    await app.close().catch(() => undefined);
    stateDb.close();
    throw err;
  }
  const address = app.server.address() as AddressInfo;
  const urlHost = host === '0.0.0.0' || host === '::' ? tls.name : host.includes(':') ? `[${host}]` : host;
  return {
    url: `https://${urlHost}:${address.port}/`,
    address,
    imports: ctx.imports,
    directoryStatus: () => directory?.status() ?? null,
    close: async () => {
      await app.close();
      stateDb.close();
    },
  };
}
