/**
 * Wrong proxy passwords are throttled (issue 11 item 4): after five failures the next attempt gets a 429
 * page with Retry-After, recorded as a throttled auth failure, and no password is checked for it.
 */
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningSchoolgate } from '../../../src/app/start.js';
import { startOrigin, type Origin } from '../../helpers/origin.js';
import { basic, viaProxy } from '../../helpers/raw-http.js';
import { startAuthProxy } from '../../helpers/schoolgate.js';

let origin: Origin;
let sg: RunningSchoolgate;
beforeAll(async () => {
  origin = await startOrigin();
  sg = await startAuthProxy(origin.port, { staff1: { profile: 'staff', password: 'staff-password' } });
});
afterAll(async () => {
  await sg?.stop();
  await origin?.close();
});

describe('wrong proxy passwords', () => {
  it('are answered 407 five times, then 429 with Retry-After, recorded as throttled', async () => {
    const url = `http://allowed.test:${origin.port}/`;
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) {
      const res = await viaProxy(sg.address.port, url, {
        headers: { 'proxy-authorization': basic('staff1', `guess-${i}`) },
      });
      statuses.push(res.status);
      if (res.status === 429) expect(Number(res.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    }
    expect(statuses).toEqual([407, 407, 407, 407, 407, 429]);
    await sg.stop();
    const db = new Database(sg.auditPath, { readonly: true });
    const reasons = db
      .prepare("SELECT reason FROM audit_events WHERE action = 'auth-failed' ORDER BY rowid")
      .pluck()
      .all();
    db.close();
    expect(reasons.slice(0, 5)).toEqual(Array(5).fill('auth:bad-credentials'));
    expect(String(reasons[5])).toMatch(/^auth:throttled-(address|user)$/);
  });
});
