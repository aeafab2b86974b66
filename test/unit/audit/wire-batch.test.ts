/** The packed batch to the writer thread: what goes in comes out, field for field. */
import { describe, expect, it } from 'vitest';
import type { AuditEvent } from '../../../src/audit/types.js';
import { decodeBatch, encodeBatch } from '../../../src/audit/wire-batch.js';

const full: AuditEvent = {
  id: 'a1',
  time: 1_700_000_000_123,
  user: 'j.smith',
  claimedUser: null,
  profile: 'staff',
  clientIp: '10.0.0.1',
  device: 'laptop-7',
  method: 'POST',
  scheme: 'https',
  host: 'www.example.test',
  port: 443,
  path: '/search?q=a%20b',
  categories: ['search', 'news'],
  action: 'allow',
  rule: 'default',
  reason: 'default',
  flagged: true,
  status: null,
  kind: 'inspected',
  searchTerm: 'a b "quoted" \u2028 ünïcode',
  searchEngine: 'example',
  rewrites: ['safe=active'],
  note: 'line one\nline two',
  selftestRun: 'run-1',
  site: 'north',
};

describe('wire batch', () => {
  it('carries every field of a row and every outcome unchanged', () => {
    const updates = [
      { id: 'a0', outcome: { status: 200, bytesIn: 10, bytesOut: 2048, durationMs: 5 } },
      { id: 'a1', outcome: { status: null, bytesIn: 0, bytesOut: 0, durationMs: 0 } },
    ];
    expect(decodeBatch(encodeBatch([full], updates))).toEqual({ records: [full], updates });
  });

  it('leaves an absent kind absent (a request) and absent optional fields null', () => {
    const { kind: _kind, searchTerm: _t, note: _n, ...minimal } = full;
    const [row] = decodeBatch(encodeBatch([minimal], [])).records;
    expect(row).not.toHaveProperty('kind');
    expect(row).toMatchObject({ ...minimal, searchTerm: null, note: null });
  });

  it('refuses a string it did not make', () => {
    expect(() => decodeBatch('{"rows":1}')).toThrow();
    expect(() => decodeBatch('not json')).toThrow();
  });
});
