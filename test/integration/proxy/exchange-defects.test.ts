/**
 * Defects the one-exchange refactor fixed, each through a real proxy (real sockets, real SQLite):
 * - a Continue after a warn that came from a URL-prefix entry was refused as 'continue:wrong-site';
 * - settings that a reload applies live (here the Basic realm) kept their start-up values in the edge.
 */
import Database from 'better-sqlite3';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSchoolgate, type RunningSchoolgate } from '../../../src/app/start.js';
import { startOrigin, ORIGIN_BODY, type Origin } from '../../helpers/origin.js';
import { hiddenFields } from '../../helpers/page-forms.js';
import { viaProxy } from '../../helpers/raw-http.js';
import { startTestProxy, tempDir, testConfig } from '../../helpers/schoolgate.js';

let origin: Origin;
beforeAll(async () => {
  origin = await startOrigin();
});
afterAll(async () => {
  await origin?.close();
});

describe('a warn from a URL-prefix entry', () => {
  let sg: RunningSchoolgate;
  beforeAll(async () => {
    // Staff by address; the fixture's streaming category lists the URL prefix allowed.test/videos.
    sg = await startTestProxy(
      testConfig({
        httpPorts: [origin.port],
        identity: { networks: [{ cidr: '127.0.0.0/8', profile: 'staff' }] },
      }),
    );
  });
  afterAll(async () => {
    await sg?.stop();
  });

  it('accepts the Continue and later requests under the prefix are "continued"', async () => {
    const url = `http://allowed.test:${origin.port}/videos/lesson-1`;
    const warned = await viaProxy(sg.address.port, url);
    expect(warned.status).toBe(403);
    const fields = hiddenFields(warned.body);
    expect(fields.site).toBe('allowed.test/videos');

    const cont = await viaProxy(sg.address.port, `http://allowed.test:${origin.port}/.schoolgate/continue`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(fields).toString(),
    });
    expect(cont.status).toBe(303);
    expect(cont.headers.location).toBe(url);

    const after = await viaProxy(sg.address.port, url);
    expect(after.status).toBe(200);
    expect(after.body).toBe(ORIGIN_BODY);
    // The grant covers the prefix, not the whole host's other warned entries: the rest of the host is unaffected.
    const db = new Database(sg.auditPath, { readonly: true });
    const actions = db
      .prepare("SELECT action FROM audit_events WHERE host = 'allowed.test' ORDER BY rowid")
      .all()
      .map((r) => (r as { action: string }).action);
    db.close();
    expect(actions).toEqual(['warn', 'continue', 'continued']);
  });
});

describe('settings a reload applies live', () => {
  let sg: RunningSchoolgate;
  beforeAll(async () => {
    const dir = tempDir();
    const identity = (realm: string) => ({ basicAuth: true, requireAuth: true, realm });
    const first = testConfig({ httpPorts: [origin.port], identity: identity('first-realm') }, dir);
    const second = testConfig({ httpPorts: [origin.port], identity: identity('second-realm') }, dir);
    let current = first;
    sg = await startSchoolgate(first, pino({ level: 'silent' }), { reloadConfig: () => current });
    current = second;
  });
  afterAll(async () => {
    await sg?.stop();
  });

  it('answer with the reloaded realm, not the start-up one', async () => {
    const url = `http://allowed.test:${origin.port}/`;
    const before = await viaProxy(sg.address.port, url);
    expect(before.status).toBe(407);
    expect(before.headers['proxy-authenticate']).toContain('realm="first-realm"');
    await sg.reload();
    const after = await viaProxy(sg.address.port, url);
    expect(after.status).toBe(407);
    expect(after.headers['proxy-authenticate']).toContain('realm="second-realm"');
  });
});
