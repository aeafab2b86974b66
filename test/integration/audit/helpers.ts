import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AuditEvent } from '../../../src/audit/index.js';

export function makeEvent(overrides: Partial<AuditEvent> = {}): AuditEvent {
  return {
    id: randomUUID(),
    time: Date.now(),
    user: 'pupil1',
    profile: 'pupil',
    clientIp: '10.0.0.12',
    device: null,
    method: 'GET',
    scheme: 'http',
    host: 'blocked.example',
    port: 80,
    path: '/',
    categories: ['social'],
    action: 'block',
    rule: 'category:social:blocked.example',
    reason: 'category',
    flagged: true,
    status: 403,
    ...overrides,
  };
}

/** A fresh temp folder per test; removed by the returned cleanup. */
export function tempDir(prefix = 'sg-audit-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}
