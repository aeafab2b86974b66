/** A typical allowed request's audit event with a fresh id, for the audit and store benchmarks. */
import { randomUUID } from 'node:crypto';
import type { AuditEvent } from '../../src/audit/types.js';

export function benchEvent(): AuditEvent {
  return {
    id: randomUUID(),
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
