/** Access-log lines: Squid's native format field by field, and JSON lines. */
import { describe, expect, it } from 'vitest';
import { escapeField, jsonLine, squidLine, squidResultCode, urlOf } from '../../../src/access-log/line.js';
import { AUDIT_ACTIONS, type AuditEvent, type AuditOutcome } from '../../../src/audit/types.js';
import { auditEvent } from '../../helpers/audit-event.js';
import { parseSquidLine } from './squid-format.js';

function row(over: Partial<AuditEvent> = {}): AuditEvent {
  return auditEvent({
    user: 'jsmith',
    profile: 'pupil',
    clientIp: '10.1.2.3',
    host: 'example.org',
    path: '/a?b=c',
    kind: 'request',
    ...over,
  });
}
const outcome: AuditOutcome = { status: 200, bytesIn: 120, bytesOut: 5432, durationMs: 17 };
const direct = { parent: null };

describe('squidLine', () => {
  it('writes the ten fields of Squid’s native format', () => {
    const line = squidLine(row(), outcome, direct);
    expect(line).toBe(
      '1764672000.042     17 10.1.2.3 TCP_MISS/200 5432 GET http://example.org/a?b=c jsmith HIER_DIRECT/example.org -',
    );
    expect(parseSquidLine(line)).toMatchObject({ codeStatus: 'TCP_MISS/200', bytes: '5432' });
  });

  it.each<[string, Partial<AuditEvent>, AuditOutcome | null, string, string]>([
    ['a block page', { action: 'block', status: 403 }, null, 'TCP_DENIED/403', 'HIER_NONE/-'],
    ['a warn page', { action: 'warn', status: 200 }, null, 'TCP_DENIED/200', 'HIER_NONE/-'],
    ['a 407', { action: 'auth-failed', status: 407, user: null }, null, 'TCP_DENIED/407', 'HIER_NONE/-'],
    ['a malformed request', { action: 'reject', status: 400 }, null, 'NONE_NONE/400', 'HIER_NONE/-'],
    [
      'a tunnel',
      { method: 'CONNECT', kind: 'tunnel', scheme: 'https', port: 443, path: null },
      { ...outcome, status: 200 },
      'TCP_TUNNEL/200',
      'HIER_DIRECT/example.org',
    ],
    ['an origin that timed out', {}, { ...outcome, status: 504 }, 'TCP_MISS/504', 'HIER_DIRECT/example.org'],
    ['an outcome never known', {}, null, 'TCP_MISS/000', 'HIER_DIRECT/example.org'],
  ])('%s', (_name, over, out, codeStatus, hierarchy) => {
    const fields = parseSquidLine(squidLine(row(over), out, direct));
    expect(fields.codeStatus).toBe(codeStatus);
    expect(fields.hierarchy).toBe(hierarchy);
  });

  it('names the parent proxy as the peer of forwarded requests only, not of routed names', () => {
    const ctx = { parent: 'la-filter.example:8080', routed: new Map([['intranet.test', '10.0.0.5']]) };
    expect(parseSquidLine(squidLine(row({ host: 'intranet.test' }), outcome, ctx)).hierarchy).toBe(
      'HIER_DIRECT/intranet.test',
    );
    expect(parseSquidLine(squidLine(row(), outcome, ctx)).hierarchy).toBe(
      'FIRSTUP_PARENT/la-filter.example:8080',
    );
    expect(parseSquidLine(squidLine(row({ action: 'block' }), null, ctx)).hierarchy).toBe('HIER_NONE/-');
  });

  it.each([
    ['a space in the path', { path: '/a b' }, 'url', 'http://example.org/a%20b'],
    ['a newline in the path', { path: '/a\nFAKE 1 2' }, 'url', 'http://example.org/a%0AFAKE%201%202'],
    ['a user name with a space', { user: 'j smith' }, 'user', 'j%20smith'],
    ['a user name with a tab and non-ASCII', { user: 'é\tx' }, 'user', '%C3%A9%09x'],
    ['a percent sign stays unambiguous', { path: '/%20' }, 'url', 'http://example.org/%2520'],
    ['an IPv6 host is bracketed', { host: '::1', port: 8080 }, 'url', 'http://[::1]:8080/a?b=c'],
  ] as const)('keeps one line of ten fields: %s', (_name, over, field, expected) => {
    const line = squidLine(row(over), outcome, direct);
    expect(line).not.toMatch(/[\r\n\t]/);
    expect(parseSquidLine(line)[field]).toBe(expected);
  });

  it('logs a CONNECT’s URL as host:port, a default port left out otherwise', () => {
    expect(urlOf(row({ method: 'CONNECT', port: 8443 }))).toBe('example.org:8443');
    expect(urlOf(row({ scheme: 'https', port: 443, path: '/' }))).toBe('https://example.org/');
    expect(escapeField('plain')).toBe('plain');
  });

  it('has a Squid result code for every action', () => {
    for (const action of AUDIT_ACTIONS) expect(squidResultCode(row({ action }))).toMatch(/^[A-Z_]+$/);
  });
});

describe('jsonLine', () => {
  it('is one JSON object with the Squid fields and the decision', () => {
    const line = jsonLine(row({ categories: ['social'], action: 'block', status: 403 }), null, direct);
    expect(line).not.toContain('\n');
    expect(JSON.parse(line)).toMatchObject({
      time: '2025-12-02T10:40:00.042Z',
      client: '10.1.2.3',
      user: 'jsmith',
      profile: 'pupil',
      url: 'http://example.org/a?b=c',
      action: 'block',
      result: 'TCP_DENIED',
      status: 403,
      categories: ['social'],
      parent: null,
    });
  });
});
