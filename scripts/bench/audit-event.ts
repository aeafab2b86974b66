/**
 * A typical allowed request's audit event with a fresh id, for the audit and store benchmarks. The id is a
 * UUIDv7 as the proxy makes them (event-id.ts): random v4 ids scatter inserts over the unique index, which
 * the proxy never does, and cost the writer about twice the WAL pages per row.
 */
import { newEventId } from '../../src/audit/event-id.js';
import type { AuditEvent } from '../../src/audit/types.js';

export function benchEvent(): AuditEvent {
  return {
    id: newEventId(),
    time: Date.now(),
    user: 'pupil1',
    profile: 'pupil',
    clientIp: '10.0.0.12',
    device: null,
    method: 'GET',
    scheme: 'http',
    host: 'www.example.org',
    port: 80,
    path: '/some/page?q=1',
    categories: ['news'],
    action: 'allow',
    rule: 'default',
    reason: 'default',
    flagged: false,
    status: null,
  };
}
