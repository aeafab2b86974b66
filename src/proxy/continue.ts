/**
 * The warn page's Continue: `POST <warned origin>/.schoolgate/continue` with the signed token. A valid
 * token for this subject and site creates a grant until its expiry, the Continue itself is an audit row,
 * and the browser is sent back to the address it asked for.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Target } from '../policy/types.js';
import { errorBody } from './answers.js';
import { commitRow, type EdgeContext } from './edge-context.js';
import { auditEventFor, grantSubject, type Attempt } from './gatekeeper.js';
import { sendPage } from './respond.js';
import { verifyGrant } from './warn-token.js';

const MAX_FORM_BYTES = 16 * 1024;

export async function handleContinue(
  edge: EdgeContext,
  attempt: Attempt,
  req: IncomingMessage,
  res: ServerResponse,
  target: Target,
  kind: 'request' | 'inspected' = 'request',
): Promise<void> {
  const fail = async (reason: string) => {
    await commitRow(edge, {
      ...auditEventFor(attempt, target, null, { action: 'reject', reason, status: 400 }),
      kind,
    });
    const body = errorBody(
      400,
      {
        host: target.host,
        time: edge.now(),
        timeZone: edge.config.timeZone,
        reference: attempt.id,
      },
      'The permission to continue was not valid. Go back and try again.',
    );
    sendPage(res, { status: 400, close: true, body });
  };
  if (req.method !== 'POST') return fail('continue:method');
  const form = await readForm(req);
  if (!form) return fail('continue:form');
  const site = form.get('site') ?? '';
  // The grant may only cover the host the request went to (or a parent domain of it).
  if (!(target.host === site || target.host.endsWith(`.${site}`))) return fail('continue:wrong-site');

  const result = await edge.gatekeeper.identify(attempt);
  if (!result) return fail('continue:identity');
  const subject = grantSubject(result, attempt.clientIp);
  const check = verifyGrant(edge.tokenKey, form.get('token') ?? '', { subject, site, now: edge.now() });
  if (!check.ok) return fail(`continue:${check.reason}`);

  const event = auditEventFor(
    attempt,
    target,
    { identity: result },
    {
      action: 'continue',
      reason: `continue:${form.get('ref') ?? ''}`.slice(0, 80),
      status: 303,
    },
  );
  event.kind = kind;
  if (!(await commitRow(edge, event))) return fail('continue:audit-unavailable');
  edge.grants.grant(subject, site, check.expiresAt);
  res.writeHead(303, {
    location: backTo(form.get('url'), target, site),
    'cache-control': 'no-store',
    'content-length': 0,
  });
  res.end();
}

/** Back to the address the user asked for, only if it is on the granted site (no open redirect). */
function backTo(url: string | null, target: Target, site: string): string {
  try {
    if (url) {
      const parsed = new URL(url);
      const host = parsed.hostname.toLowerCase();
      if (
        (parsed.protocol === 'http:' || parsed.protocol === 'https:') &&
        (host === site || host.endsWith(`.${site}`))
      )
        return parsed.href;
    }
  } catch {
    // fall through to the site's root
  }
  return `${target.scheme}://${target.host}/`;
}

export async function readForm(req: IncomingMessage): Promise<URLSearchParams | null> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_FORM_BYTES) return null;
    chunks.push(chunk);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}
