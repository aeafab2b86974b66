/**
 * An HTTP request through the proxy, whatever the transport: absolute-form on the proxy port, or an inner
 * (origin-form) request of an intercepted tunnel carrying the tunnel's identity. Read the head → the
 * proxy's own pages and actions → check → refuse, or read a small body, commit and forward.
 */
import type { AuditEvent } from '../audit/types.js';
import { safeSearchRewrite } from '../policy/safesearch.js';
import { extractSearchTerm } from '../policy/search-terms.js';
import type { Target } from '../policy/types.js';
import { continueAction, selfReportAction } from './actions.js';
import { formVerdict, readFormBody } from './form.js';
import { allowedAction } from './pilot.js';
import { unblockAction } from './unblock.js';
import type { Exchange } from './exchange.js';
import { readInnerHead, readProxyHead } from './read-head.js';
import { ruleText } from './rows.js';
import type { PageAnswer, RequestHead } from './types.js';

/** A body as the adapter read it: `content` is the whole of it when it was small enough to hold. */
export interface ReadBody {
  bytes: number;
  content?: Buffer;
}

/** What the adapter does for the exchange: read the body (bounded) or a small form. */
export interface HttpIo<B extends ReadBody> {
  /** The request announces a body (Content-Length > 0 or Transfer-Encoding). */
  hasBody: boolean;
  /** Reads a small body before anything goes upstream (a body the parser refuses never opens a connection). */
  readBody(): Promise<B | 'aborted'>;
  readForm(): Promise<URLSearchParams | null>;
  /** The answer will close the connection: whatever the parser still finds on it belongs to this request. */
  closing(): void;
}

export type HttpStep<B> =
  | { kind: 'answer'; answer: PageAnswer }
  | { kind: 'own-page'; path: string }
  /** The client went away while its body was read: nothing was decided into a row. */
  | { kind: 'aborted' }
  | {
      kind: 'forward';
      target: Target;
      /** The checked address: the upstream connect goes here, never to a second lookup. */
      address: string;
      /** Through the parent proxy (upstream.proxy); `address` is then the name, resolved by the parent. */
      viaParent?: boolean;
      /** The client's path bytes (after any SafeSearch rewrite): what the origin gets. */
      rawPath: string;
      /** Headers to set upstream (SafeSearch / YouTube-Restrict). */
      headers: Record<string, string>;
      body: B;
      /** Sent instead of the client's body (a search form with SafeSearch forced in it). */
      replaceBody?: Buffer;
      pageUrl: string;
    };

export async function runHttp<B extends ReadBody>(
  ex: Exchange,
  head: RequestHead,
  io: HttpIo<B>,
): Promise<HttpStep<B>> {
  const tunnel = ex.start.tunnel;
  const reading = tunnel ? readInnerHead(head, tunnel) : readProxyHead(head, ex.env.own);
  if (reading.kind === 'own-page') return { kind: 'own-page', path: reading.path };
  if (!tunnel && !ex.clientAllowed) {
    io.closing();
    return answer(await ex.refuseClient(seenOf(reading), head.rawTarget));
  }
  if (reading.kind === 'reject') {
    io.closing();
    return answer(await ex.reject(reading.status, reading.reason, reading.seen, head.rawTarget));
  }

  const { target, pageUrl } = reading;
  if (reading.action === 'continue') return answer(await continueAction(ex, target, await io.readForm()));
  if (reading.action === 'self-report')
    return answer(await selfReportAction(ex, target, await io.readForm()));
  if (reading.action === 'unblock') return answer(await unblockAction(ex, target, await io.readForm()));
  // A tunnel opened only to show its block page: that page, whatever is asked inside it; never forwarded.
  // The row and the page name the host that was blocked, whatever Host the client sends inside.
  if (tunnel?.blocked) {
    const blockedTarget = { ...tunnel.connect, path: target.path };
    const page = await ex.refuse(
      tunnel.blocked,
      blockedTarget,
      `https://${hostOf(tunnel)}${reading.rawPath}`,
    );
    return answer({ ...page, close: true });
  }

  const ports = tunnel ? ex.env.ports.tunnel : ex.env.ports.http;
  let verdict = await ex.check(target, ports);
  const endpoints = ex.snapshot.lists.endpoints;
  const search = extractSearchTerm(endpoints, target);
  const extra: Partial<AuditEvent> = search ? { searchTerm: search.term, searchEngine: search.engine } : {};
  if (verdict.kind !== 'allow') {
    const page = await ex.refuse(verdict, target, pageUrl, extra);
    // A body we never read (or a client waiting for 100 Continue) must not be taken as the next request.
    return answer({ ...page, close: page.close || io.hasBody });
  }

  const body = await io.readBody();
  if (body === 'aborted') return { kind: 'aborted' };
  // A form posted to a known endpoint is read like its query: term, SafeSearch and target decided on it.
  let form: { text: string; form: URLSearchParams } | undefined;
  if (io.hasBody && endpoints.match(target)?.spec.forms === true) {
    const reading = readFormBody(head.contentType, body.content);
    const formed = formVerdict(ex, verdict, target, reading);
    // Pilot mode: the form's would-block or would-warn is the row's.
    if (formed?.kind === 'allow') verdict = formed;
    const refused = formed?.kind === 'allow' ? null : formed;
    if (reading.kind === 'form') {
      form = reading;
      const term = extractSearchTerm(endpoints, target, reading.form);
      if (term) Object.assign(extra, { searchTerm: term.term, searchEngine: term.engine });
    }
    if (refused) {
      const page = await ex.refuse(refused, target, pageUrl, extra);
      return answer({ ...page, close: page.close || body.content === undefined });
    }
  }

  // SafeSearch / YouTube restrictions, enforced whatever the user sent; each rewrite is in the row.
  const profile = ex.snapshot.profiles.get(verdict.identity.profile);
  const rewrite = safeSearchRewrite(
    endpoints,
    target,
    reading.rawPath,
    { safeSearch: profile?.safeSearch ?? false, youtubeRestrict: profile?.youtubeRestrict ?? 'off' },
    form?.text,
  );
  if (rewrite.rewrites.length > 0) extra.rewrites = rewrite.rewrites;

  const row = ex.row(target, verdict, {
    action: allowedAction(verdict),
    reason: verdict.decision.rule.kind,
    status: null,
  });
  if (!(await ex.commit({ ...row, ...extra }))) return answer(ex.unavailable(pageUrl));
  if (ex.env.logger.isLevelEnabled('debug'))
    ex.env.logger.debug({ id: ex.id, host: target.host, rule: ruleText(verdict.decision) }, 'forward');
  return {
    kind: 'forward',
    target,
    address: verdict.resolution.address,
    ...(verdict.resolution.viaParent ? { viaParent: true } : {}),
    rawPath: rewrite.pathAndQuery,
    headers: rewrite.headers,
    body,
    ...(rewrite.form !== undefined ? { replaceBody: Buffer.from(rewrite.form, 'latin1') } : {}),
    pageUrl,
  };
}

function hostOf(tunnel: { connect: Target }): string {
  const { host, hostKind, port } = tunnel.connect;
  const name = hostKind === 'ipv6' ? `[${host}]` : host;
  return port === 443 ? name : `${name}:${port}`;
}

function answer(page: PageAnswer): { kind: 'answer'; answer: PageAnswer } {
  return { kind: 'answer', answer: page };
}

/** What a row records of a head that was refused before (or without) a canonical target. */
export function seenOf(
  reading: { kind: 'reject'; seen: { host: string; path: string } } | { kind: 'target'; target: Target },
): Partial<Target> & { host: string } {
  return reading.kind === 'target' ? reading.target : reading.seen;
}
