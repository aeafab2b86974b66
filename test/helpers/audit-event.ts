/** An allowed request's audit row with plain defaults; tests override what they are about. */
import type { AuditEvent } from '../../src/audit/types.js';

export function auditEvent(overrides: Partial<AuditEvent> = {}): AuditEvent {
  return {
    id: 'ev1',
    time: 1_764_672_000_042,
    user: null,
    profile: 'guest',
    clientIp: '127.0.0.1',
    device: null,
    method: 'GET',
    scheme: 'http',
    host: 'example.test',
    port: 80,
    path: '/',
    categories: [],
    action: 'allow',
    rule: null,
    reason: 'default',
    flagged: false,
    status: null,
    ...overrides,
  };
}
