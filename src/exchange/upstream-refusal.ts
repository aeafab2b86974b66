/**
 * The origin of an allowed request failed its TLS check: untrusted, expired, the wrong name, or a
 * certificate a browser would refuse (src/tls/upstream-policy.ts). The request's own row was committed
 * before anything went upstream, so the refusal gets a row of its own, `error` / `upstream-cert:<cause>`
 * with the detail in its note, committed before the 502 page that names the cause (503 when it cannot be
 * committed, as everywhere).
 */
import type { AuditEvent } from '../audit/types.js';
import type { Target } from '../policy/types.js';
import type { UpstreamTlsCause } from '../tls/failure-cause.js';
import { CAUSE_TEXT } from '../tls/failure-cause.js';
import { errorBody } from './answers.js';
import type { Exchange } from './exchange.js';
import { truncate } from './rows.js';
import type { PageAnswer } from './types.js';

export const UPSTREAM_CERT_REASON = 'upstream-cert';

export async function refuseUpstreamCertificate(
  ex: Exchange,
  target: Target,
  cause: UpstreamTlsCause,
  detail: string,
  pageUrl: string,
): Promise<PageAnswer> {
  const refusal = ex.sibling(ex.method);
  const fields = { action: 'error', reason: `${UPSTREAM_CERT_REASON}:${cause}`, status: 502 } as const;
  // Who asked and what was decided, from the request's row; not its search term, rewrites or flag, which
  // that row already carries (reports would count them twice).
  const asked = ex.committedRow;
  const row: AuditEvent = {
    ...(asked ?? refusal.row(target, null, fields)),
    ...fields,
    id: refusal.id,
    time: refusal.startedAt,
    flagged: false,
    searchTerm: null,
    searchEngine: null,
    rewrites: null,
    note: truncate(detail, 500),
  };
  ex.env.logger.warn(
    { id: ex.id, refusal: refusal.id, host: target.host, cause, detail: row.note },
    'upstream certificate refused',
  );
  if (!(await refusal.commit(row))) return refusal.unavailable(pageUrl);
  const page = { url: pageUrl, host: target.host, ...refusal.pageTime(), reference: refusal.id };
  const text = `${CAUSE_TEXT[cause]} The filter will not connect to it (${row.reason}).`;
  return { status: 502, close: true, body: errorBody(502, page, text) };
}
