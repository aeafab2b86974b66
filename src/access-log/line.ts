/**
 * One access-log line from an audit row and its outcome: Squid's native access.log format, or a JSON line.
 * Pure: table-tested (test/unit/access-log/line.test.ts).
 *
 * Squid's native format (logformat squid):
 *   %ts.%03tu %6tr %>a %Ss/%03>Hs %<st %rm %ru %[un %Sh/%<a %mt
 * time (Unix seconds.milliseconds), elapsed ms, client address, result code/status, bytes sent to the
 * client, method, URL, user, hierarchy code/peer, content type. Fields are separated by spaces, so every
 * field that could hold a space or control character (URL, user) is percent-encoded: one line, ten fields,
 * whatever a client sent.
 */
import type { AuditEvent, AuditOutcome } from '../audit/types.js';

export type AccessLogFormat = 'squid' | 'json';

/** The parent proxy an allowed request went through (upstream.proxy), for the hierarchy field. */
export interface LineContext {
  parent: string | null;
  /** Names routed by hostsFile / hosts: they go straight to their address even with a parent. */
  routed?: ReadonlyMap<string, string>;
}

/** The parent an allowed row went through, or null when it went straight to the origin. */
function parentOf(row: AuditEvent, ctx: LineContext): string | null {
  return ctx.parent !== null && !ctx.routed?.has(row.host) ? ctx.parent : null;
}

/** Squid's result code (%Ss) for what schoolgate did. */
export function squidResultCode(row: AuditEvent): string {
  switch (row.action) {
    case 'allow':
    case 'continued':
    case 'would-block': // pilot mode: let through
    case 'would-warn':
      return row.kind === 'tunnel' ? 'TCP_TUNNEL' : 'TCP_MISS';
    case 'block':
    case 'warn':
    case 'refused':
    case 'auth-failed':
      return 'TCP_DENIED';
    case 'continue':
      return 'TCP_REDIRECT';
    case 'reject':
    case 'error':
    case 'self-report':
    case 'unblock-request':
    case 'unblock-approved':
    case 'unblock-denied':
      return 'NONE_NONE';
  }
}

function forwarded(row: AuditEvent): boolean {
  return (
    row.action === 'allow' ||
    row.action === 'continued' ||
    row.action === 'would-block' ||
    row.action === 'would-warn'
  );
}

/** Percent-encodes space, control characters, '%' (so the encoding is unambiguous) and non-ASCII. */
export function escapeField(value: string): string {
  // eslint-disable-next-line no-control-regex
  return value.replace(/[\u0000-\u0020%\u007f-\uffff]/gu, (c) =>
    [...Buffer.from(c, 'utf8')].map((b) => `%${b.toString(16).toUpperCase().padStart(2, '0')}`).join(''),
  );
}

/** The URL as Squid logs it: host:port for a CONNECT, else scheme://host[:port]path. */
export function urlOf(row: AuditEvent): string {
  const host = row.host.includes(':') && !row.host.startsWith('[') ? `[${row.host}]` : row.host;
  if (row.method === 'CONNECT') return `${host}:${row.port ?? 443}`;
  const standard = row.scheme === 'https' ? 443 : 80;
  const port = row.port !== null && row.port !== standard ? `:${row.port}` : '';
  return `${row.scheme}://${host}${port}${row.path ?? '/'}`;
}

function statusOf(row: AuditEvent, outcome: AuditOutcome | null): number {
  return outcome?.status ?? row.status ?? 0;
}

export function squidLine(row: AuditEvent, outcome: AuditOutcome | null, ctx: LineContext): string {
  const seconds = Math.floor(row.time / 1000);
  const millis = String(row.time % 1000).padStart(3, '0');
  const elapsed = String(Math.max(0, Math.round(outcome?.durationMs ?? 0))).padStart(6, ' ');
  const status = String(statusOf(row, outcome)).padStart(3, '0');
  const bytes = outcome?.bytesOut ?? 0;
  const user = row.user ? escapeField(row.user) : '-';
  const parent = parentOf(row, ctx);
  const hierarchy = !forwarded(row)
    ? 'HIER_NONE/-'
    : parent
      ? `FIRSTUP_PARENT/${escapeField(parent)}`
      : `HIER_DIRECT/${escapeField(row.host)}`;
  return [
    `${seconds}.${millis}`,
    elapsed,
    row.clientIp,
    `${squidResultCode(row)}/${status}`,
    bytes,
    escapeField(row.method),
    escapeField(urlOf(row)),
    user,
    hierarchy,
    '-',
  ].join(' ');
}

/** A JSON line: the Squid fields by name, and what schoolgate adds (profile, categories, rule, reason). */
export function jsonLine(row: AuditEvent, outcome: AuditOutcome | null, ctx: LineContext): string {
  return JSON.stringify({
    time: new Date(row.time).toISOString(),
    id: row.id,
    elapsedMs: outcome?.durationMs ?? null,
    client: row.clientIp,
    user: row.user,
    device: row.device,
    profile: row.profile,
    method: row.method,
    url: urlOf(row),
    kind: row.kind ?? 'request',
    action: row.action,
    result: squidResultCode(row),
    status: statusOf(row, outcome) || null,
    bytesIn: outcome?.bytesIn ?? null,
    bytesOut: outcome?.bytesOut ?? null,
    categories: row.categories,
    rule: row.rule,
    reason: row.reason,
    parent: forwarded(row) ? parentOf(row, ctx) : null,
  });
}

export function formatLine(
  format: AccessLogFormat,
  row: AuditEvent,
  outcome: AuditOutcome | null,
  ctx: LineContext,
): string {
  return format === 'json' ? jsonLine(row, outcome, ctx) : squidLine(row, outcome, ctx);
}
