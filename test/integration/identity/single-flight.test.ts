/**
 * The first requests after start (issue 13): 16 clients, each on its own connection, with one Basic
 * credential share one scrypt verification instead of queueing one each; a second credential gets its own.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningSchoolgate } from '../../../src/app/start.js';
import { startOrigin, type Origin } from '../../helpers/origin.js';
import { basic, viaProxy } from '../../helpers/raw-http.js';
import { startAuthProxy } from '../../helpers/schoolgate.js';

let origin: Origin;
let sg: RunningSchoolgate;
beforeAll(async () => {
  origin = await startOrigin();
  sg = await startAuthProxy(origin.port, {
    staff1: { profile: 'staff', password: 'staff-password' },
    pupil1: { profile: 'pupil', password: 'pupil-password' },
  });
});
afterAll(async () => {
  await sg?.stop();
  await origin?.close();
});

function burst(credential: string, n: number) {
  const url = `http://allowed.test:${origin.port}/`;
  return Array.from({ length: n }, () =>
    viaProxy(sg.address.port, url, { headers: { 'proxy-authorization': credential } }),
  );
}

describe('concurrent first requests with one credential', () => {
  it('16 connections with one credential run one verification; another credential runs its own', async () => {
    const staff = basic('staff1', 'staff-password');
    const pupil = basic('pupil1', 'pupil-password');
    const responses = await Promise.all([...burst(staff, 16), ...burst(pupil, 8)]);
    expect(responses.map((r) => r.status)).toEqual(Array(24).fill(200));
    expect(sg.identifier.authCounters()).toMatchObject({ verifications: 2, failures: 0 });
    // Later requests are answered from the verified-credential cache.
    await Promise.all(burst(staff, 4));
    expect(sg.identifier.authCounters().verifications).toBe(2);
  });

  it('16 connections with one wrong password run one verification and count one failure', async () => {
    const before = sg.identifier.authCounters();
    const responses = await Promise.all(burst(basic('staff1', 'a-wrong-guess'), 16));
    expect(responses.map((r) => r.status)).toEqual(Array(16).fill(407));
    const after = sg.identifier.authCounters();
    expect(after.verifications - before.verifications).toBe(1);
    expect(after.failures - before.failures).toBe(1);
  });
});
