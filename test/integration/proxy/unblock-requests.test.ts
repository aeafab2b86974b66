/**
 * Unblock requests against hostile input, on a real proxy on loopback: the form's token is bound to the
 * person and the blocked host and signed for this purpose, so a request another site forges, another
 * person replays, or a Continue token stands in for is refused with a reject row; the reason is bounded;
 * a person can have one waiting request per site and a few at a time.
 */
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningSchoolgate } from '../../../src/app/start.js';
import { UserStore } from '../../../src/identity/user-store.js';
import { REQUEST_LIMITS } from '../../../src/state/unblock-requests.js';
import { withState } from '../../../src/state/store.js';
import { startOrigin, type Origin } from '../../helpers/origin.js';
import { hiddenFields } from '../../helpers/page-forms.js';
import { basic, viaProxy } from '../../helpers/raw-http.js';
import { startTestProxy, testConfig } from '../../helpers/schoolgate.js';

let origin: Origin;
let sg: RunningSchoolgate;
let dataDir: string;
const JO = basic('jo', 'pw-jo-123456');
const SAM = basic('sam', 'pw-sam-123456');
const STAFF = basic('staff1', 'pw-staff-123456');

beforeAll(async () => {
  origin = await startOrigin();
  const config = testConfig({ httpPorts: [origin.port], identity: { basicAuth: true, requireAuth: false } });
  dataDir = config.dataDir;
  const users = new UserStore(config.dataDir);
  await users.add({ name: 'jo', profile: 'pupil', password: 'pw-jo-123456' });
  await users.add({ name: 'sam', profile: 'pupil', password: 'pw-sam-123456' });
  await users.add({ name: 'staff1', profile: 'staff', password: 'pw-staff-123456' });
  users.close();
  sg = await startTestProxy(config);
});

afterAll(async () => {
  await sg?.stop();
  await origin?.close();
});

const url = (host: string, path = '/') => `http://${host}:${origin.port}${path}`;

/** The hidden fields of the page the person gets for this address (block or warn page). */
async function formOf(host: string, who: string): Promise<Record<string, string>> {
  const page = await viaProxy(sg.address.port, url(host, '/page'), {
    headers: { 'proxy-authorization': who },
  });
  expect(page.status).toBe(403);
  return hiddenFields(page.body);
}

function post(host: string, path: string, who: string, fields: Record<string, string>, method = 'POST') {
  const body = new URLSearchParams(fields).toString();
  return viaProxy(sg.address.port, url(host, path), {
    method,
    headers: { 'proxy-authorization': who, 'content-type': 'application/x-www-form-urlencoded' },
    ...(method === 'POST' ? { body } : {}),
  });
}

function lastRow(): { action: string; reason: string; username: string | null; note: string | null } {
  const db = new Database(sg.auditPath, { readonly: true });
  try {
    return db
      .prepare('SELECT action, reason, username, note FROM audit_events ORDER BY seq DESC LIMIT 1')
      .get() as never;
  } finally {
    db.close();
  }
}

const pending = () => withState(dataDir, (s) => s.requests.list({ status: 'pending' }));

describe('an unblock request is refused when', () => {
  it.each<[string, () => Promise<{ status: number }>, string]>([
    [
      'there is no token (a form another site made)',
      async () => post('s1.social.test', '/.schoolgate/unblock', JO, { site: 's1.social.test', reason: 'x' }),
      'unblock:malformed',
    ],
    [
      'the token is another person’s',
      async () => {
        const f = await formOf('s1.social.test', JO);
        return post('s1.social.test', '/.schoolgate/unblock', SAM, { ...f, reason: 'x' });
      },
      'unblock:wrong-subject',
    ],
    [
      'the token is for another site (posted to a different blocked host)',
      async () => {
        const f = await formOf('s1.social.test', JO);
        return post('blocked.example', '/.schoolgate/unblock', JO, {
          ...f,
          site: 'blocked.example',
          reason: 'x',
        });
      },
      'unblock:wrong-site',
    ],
    [
      'the site field names another host than the one posted to',
      async () => {
        const f = await formOf('s1.social.test', JO);
        return post('blocked.example', '/.schoolgate/unblock', JO, { ...f, reason: 'x' });
      },
      'unblock:wrong-site',
    ],
    [
      'a Continue token (warn page) stands in for it',
      async () => {
        const f = await formOf('s1.social.test', STAFF); // staff are warned on social
        expect(f.site).toBe('social.test');
        return post('social.test', '/.schoolgate/unblock', STAFF, { ...f, site: 'social.test', reason: 'x' });
      },
      'unblock:bad-signature',
    ],
    [
      'it is not a POST',
      async () => post('s1.social.test', '/.schoolgate/unblock', JO, {}, 'GET'),
      'unblock:form',
    ],
    [
      'the reason is empty',
      async () =>
        post('s1.social.test', '/.schoolgate/unblock', JO, {
          ...(await formOf('s1.social.test', JO)),
          reason: ' \n ',
        }),
      'unblock:reason',
    ],
    [
      'the reason is longer than 500 characters',
      async () =>
        post('s1.social.test', '/.schoolgate/unblock', JO, {
          ...(await formOf('s1.social.test', JO)),
          reason: 'a'.repeat(501),
        }),
      'unblock:reason',
    ],
    [
      'the form is larger than the proxy reads',
      async () =>
        post('s1.social.test', '/.schoolgate/unblock', JO, {
          ...(await formOf('s1.social.test', JO)),
          reason: 'a'.repeat(200_000),
        }),
      'unblock:form',
    ],
  ])('%s', async (_name, send, reason) => {
    const res = await send();
    expect(res.status).toBe(400);
    expect(lastRow()).toMatchObject({ action: 'reject', reason });
    expect(await pending()).toEqual([]);
  });

  it('an unblock token is no Continue token either', async () => {
    const f = await formOf('s1.social.test', JO);
    const res = await post('s1.social.test', '/.schoolgate/continue', JO, { ...f, site: 's1.social.test' });
    expect(res.status).toBe(400);
    expect(lastRow()).toMatchObject({ action: 'reject', reason: 'continue:bad-signature' });
    expect(
      (await viaProxy(sg.address.port, url('s1.social.test'), { headers: { 'proxy-authorization': JO } }))
        .status,
    ).toBe(403);
  });
});

describe('limits', () => {
  it('one waiting request per site, and a few at a time per person', async () => {
    const ask = async (host: string, who = JO) =>
      post(host, '/.schoolgate/unblock', who, {
        ...(await formOf(host, who)),
        reason: `need ${host}\r\nX: forged`,
      });
    const f1 = await formOf('s1.social.test', JO);
    const first = await post('s1.social.test', '/.schoolgate/unblock', JO, {
      ...f1,
      reason: 'need s1.social.test\r\nX: forged',
    });
    expect(first.status).toBe(200);
    // Control characters in the reason become spaces: the note cannot add a line to a report.
    expect(lastRow()).toMatchObject({
      action: 'unblock-request',
      username: 'jo',
      note: 'need s1.social.test X: forged',
    });
    // The next block page shows the request waiting and offers no form; the old form is refused.
    expect((await formOf('s1.social.test', JO)).token).toBeUndefined();
    const again = await post('s1.social.test', '/.schoolgate/unblock', JO, { ...f1, reason: 'again' });
    expect(again.status).toBe(409);
    expect(lastRow()).toMatchObject({ action: 'reject', reason: 'unblock:already-waiting' });
    for (let i = 2; i <= REQUEST_LIMITS.pendingPerSubject; i++)
      expect((await ask(`s${i}.social.test`)).status).toBe(200);
    const over = await ask(`s${REQUEST_LIMITS.pendingPerSubject + 1}.social.test`);
    expect(over.status).toBe(429);
    expect(lastRow()).toMatchObject({ action: 'reject', reason: 'unblock:too-many' });
    // Someone else is not held back by jo's requests.
    expect((await ask('s1.social.test', SAM)).status).toBe(200);
    const waiting = await pending();
    expect(waiting.map((r) => [r.user, r.site])).toEqual([
      ...Array.from({ length: REQUEST_LIMITS.pendingPerSubject }, (_, i) => ['jo', `s${i + 1}.social.test`]),
      ['sam', 's1.social.test'],
    ]);
  });
});
