/**
 * Fail closed: when the policy throws, the request is blocked with an error page and an audit row, never
 * let through, and the server keeps serving. The fault is injected into the category lists of a real
 * server (real sockets, real audit database).
 */
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadPolicy } from '../../../src/app/start.js';
import type { PolicySnapshot } from '../../../src/exchange/snapshot.js';
import { startOrigin, type Origin } from '../../helpers/origin.js';
import { viaProxy } from '../../helpers/raw-http.js';
import { startBareProxy, type BareProxy } from '../../helpers/bare-proxy.js';
import { testConfig } from '../../helpers/schoolgate.js';

let origin: Origin;
let bare: BareProxy;
let port: number;
let auditPath: string;
let broken = false;

beforeAll(async () => {
  origin = await startOrigin();
  const config = testConfig({ httpPorts: [origin.port] });
  const policy = await loadPolicy(config);
  const faulty: PolicySnapshot = {
    config,
    profiles: policy.profiles,
    lists: {
      categories: policy.lists.categories,
      endpoints: policy.lists.endpoints,
      match: (target) => {
        if (broken) throw new Error('index corrupted');
        return policy.lists.match(target);
      },
    },
  };
  bare = await startBareProxy(config, () => faulty);
  ({ port, auditPath } = bare);
});

afterAll(async () => {
  await bare?.close();
  await origin?.close();
});

describe('a policy failure', () => {
  it('blocks the request with a page and a row, and the next healthy request is served', async () => {
    broken = true;
    const res = await viaProxy(port, `http://allowed.test:${origin.port}/during-fault`);
    expect(res.status).toBe(403);
    expect(res.body).toContain('This page is blocked');
    expect(origin.seen).toHaveLength(0);
    const db = new Database(auditPath, { readonly: true });
    const row = db
      .prepare("SELECT action, rule, reason, note, status FROM audit_events WHERE path = '/during-fault'")
      .get();
    db.close();
    // Blocked all the same, but recorded as what it was: an error, with its code and cause.
    expect(row).toEqual({
      action: 'error',
      rule: 'policy-error:policy',
      reason: 'SG_POLICY_ERROR',
      note: 'index corrupted',
      status: 403,
    });

    broken = false;
    const ok = await viaProxy(port, `http://allowed.test:${origin.port}/after-fault`);
    expect(ok.status).toBe(200);
  });
});
