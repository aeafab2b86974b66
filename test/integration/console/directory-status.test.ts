/**
 * `status` says whether console sign-in through the directory works (a real slapd): `console directory ok`
 * before any outage; with slapd stopped, a directory sign-in is refused and status shows
 * `console directory UNAVAILABLE since <time> (SG_CONSOLE_DIRECTORY_UNAVAILABLE)`, kept across further
 * refusals; with slapd back on the same port, the next sign-in works and status is ok again.
 */
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { controlRequest } from '../../../src/app/control.js';
import type { StatusReport } from '../../../src/app/status.js';
import { statusLines } from '../../../src/cli/commands/control.js';
import { ConsoleClient, startConsoleRig, type ConsoleRig } from '../../helpers/console.js';
import { findSlapd, fixtureLdap, SLAPD_SKIP_MESSAGE, startSlapd, type Slapd } from '../../helpers/slapd.js';

const LDIF = fileURLToPath(new URL('../../fixtures/ldap/console.ldif', import.meta.url));
const slapd = findSlapd();
if (!slapd) console.warn(SLAPD_SKIP_MESSAGE);

const consoleDirectoryLine = (s: StatusReport) =>
  statusLines(s).filter((l) => l.startsWith('console directory'));

describe.skipIf(!slapd)('status: the console directory (slapd)', () => {
  let server: Slapd;
  let rig: ConsoleRig;
  const status = () => controlRequest<StatusReport>(rig.config.dataDir, 'status');
  /** A technician-group member: no TOTP enrolment needed, so the directory's answer alone decides. */
  const signIn = () => new ConsoleClient(rig).signIn('t.tech', undefined, 'tech-directory-password');

  beforeAll(async () => {
    server = await startSlapd(LDIF);
    rig = await startConsoleRig(
      {},
      {
        identity: { basicAuth: true, ldap: fixtureLdap(server.url, { cacheTtlSeconds: 0 }) },
        console: { directory: { groups: { technician: ['Technicians'] } } },
      },
    );
  });
  afterAll(async () => {
    await rig?.proxy.stop();
    await server?.stop();
  });

  it('is ok, then UNAVAILABLE from the first refused sign-in, then ok once a sign-in reaches it again', async () => {
    expect((await status()).consoleDirectory).toEqual({ state: 'ok', since: null, code: null, cause: null });
    expect(consoleDirectoryLine(await status())).toEqual(['console directory ok']);
    expect((await signIn()).status).toBe(303);

    await server.stop();
    const beforeOutage = Date.now();
    expect((await signIn()).status).toBe(503);
    const afterOutage = Date.now();
    const down = await status();
    expect(down.consoleDirectory).toMatchObject({
      state: 'unavailable',
      code: 'SG_CONSOLE_DIRECTORY_UNAVAILABLE',
    });
    const since = down.consoleDirectory!.since!;
    // The refused sign-in's time: the console runs in this process, on this clock.
    expect(Date.parse(since)).toBeGreaterThanOrEqual(beforeOutage);
    expect(Date.parse(since)).toBeLessThanOrEqual(afterOutage);
    expect(consoleDirectoryLine(down)[0]).toMatch(
      new RegExp(
        `^console directory UNAVAILABLE since ${since.replace(/\./g, '\\.')} \\(SG_CONSOLE_DIRECTORY_UNAVAILABLE\\)`,
      ),
    );
    // A second refusal keeps the outage's start.
    expect((await signIn()).status).toBe(503);
    expect((await status()).consoleDirectory!.since).toBe(since);

    server = await server.restart();
    expect((await signIn()).status).toBe(303);
    expect((await status()).consoleDirectory).toMatchObject({ state: 'ok' });
    expect(consoleDirectoryLine(await status())).toEqual(['console directory ok']);
  });
});
