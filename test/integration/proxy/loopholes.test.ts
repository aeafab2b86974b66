/**
 * Search forms and translator/archive wrappers through the running proxy (issue 11, item 3): a real
 * server, a loopback origin standing in for the engines (host routes), real SQLite rows.
 */
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningSchoolgate } from '../../../src/app/start.js';
import { startOrigin, type Origin } from '../../helpers/origin.js';
import { viaProxy } from '../../helpers/raw-http.js';
import { startTestProxy, testConfig } from '../../helpers/schoolgate.js';

interface Row {
  host: string;
  path: string;
  method: string;
  action: string;
  rule: string | null;
  reason: string;
  search_term: string | null;
  search_engine: string | null;
  rewrites: string | null;
}

const ENGINES = [
  'html.duckduckgo.com',
  'lite.duckduckgo.com',
  'translate.google.com',
  'web.archive.org',
  'archive.ph',
];

let origin: Origin;
let sg: RunningSchoolgate;
let base: (host: string) => string;

function lastRow(): Row {
  const db = new Database(sg.auditPath, { readonly: true });
  try {
    return db.prepare('SELECT * FROM audit_events ORDER BY time_ms DESC, rowid DESC LIMIT 1').get() as Row;
  } finally {
    db.close();
  }
}

beforeAll(async () => {
  origin = await startOrigin();
  // Unauthenticated clients get the guest profile: adult (blocked.example) blocked, SafeSearch on.
  const config = testConfig({
    httpPorts: [origin.port],
    hosts: Object.fromEntries(ENGINES.map((h) => [h, '127.0.0.1'])),
  });
  sg = await startTestProxy(config);
  base = (host) => `http://${host}:${origin.port}`;
});

afterAll(async () => {
  await sg?.stop();
  await origin?.close();
});

const FORM = { 'content-type': 'application/x-www-form-urlencoded' };

describe('a POST search form', () => {
  it('is forwarded with SafeSearch forced in the body and the query, its term in the row', async () => {
    const seen = origin.seen.length;
    const res = await viaProxy(sg.address.port, `${base('html.duckduckgo.com')}//html/`, {
      method: 'POST',
      headers: FORM,
      body: 'q=how+to+knit&kp=-2&b=',
    });
    expect(res.status).toBe(200);
    expect(origin.seen.slice(seen)).toMatchObject([
      { method: 'POST', url: '//html/?kp=1', body: 'q=how+to+knit&b=&kp=1' },
    ]);
    expect(origin.seen.at(-1)!.headers['content-length']).toBe(String('q=how+to+knit&b=&kp=1'.length));
    expect(lastRow()).toMatchObject({
      host: 'html.duckduckgo.com',
      method: 'POST',
      action: 'allow',
      search_term: 'how to knit',
      search_engine: 'duckduckgo',
      rewrites: '["kp=1"]',
    });
  });

  it('that cannot be read as a urlencoded form is blocked, never forwarded', async () => {
    const seen = origin.seen.length;
    const res = await viaProxy(sg.address.port, `${base('lite.duckduckgo.com')}/lite/`, {
      method: 'POST',
      headers: { 'content-type': 'multipart/form-data; boundary=x' },
      body: '--x\r\nContent-Disposition: form-data; name="q"\r\n\r\nanything\r\n--x--\r\n',
    });
    expect(res.status).toBe(403);
    expect(origin.seen.length).toBe(seen);
    expect(lastRow()).toMatchObject({ action: 'block', reason: 'ambiguous-url' });
    expect(lastRow().rule).toMatch(/^ambiguous-url:form-body:/);
  });
});

describe('a blocked site wrapped in a translator or an archive', () => {
  it.each([
    ['translator, backslashes', 'translate.google.com', '/translate?sl=auto&u=http:%5C%5Cblocked.example%5C'],
    ['translator, userinfo', 'translate.google.com', '//translate?u=http://fine.example%40blocked.example/'],
    ['Wayback Machine', 'web.archive.org', '/web/2020id_/https://blocked.example/page'],
    ['archive.today', 'archive.ph', '/newest/blocked.example'],
  ])('%s: blocked as the target, never forwarded', async (_why, host, path) => {
    const seen = origin.seen.length;
    const res = await viaProxy(sg.address.port, `${base(host)}${path}`);
    expect(res.status).toBe(403);
    expect(origin.seen.length).toBe(seen);
    expect(lastRow()).toMatchObject({ host, action: 'block', rule: 'category:adult:blocked.example' });
  });

  it('a translator form naming a blocked site is blocked', async () => {
    const seen = origin.seen.length;
    const res = await viaProxy(sg.address.port, `${base('translate.google.com')}/translate`, {
      method: 'POST',
      headers: FORM,
      body: 'sl=auto&u=BLOCKED.example',
    });
    expect(res.status).toBe(403);
    expect(origin.seen.length).toBe(seen);
    expect(lastRow()).toMatchObject({
      method: 'POST',
      action: 'block',
      rule: 'category:adult:blocked.example',
    });
  });

  it('a translator of an allowed page is forwarded', async () => {
    const res = await viaProxy(
      sg.address.port,
      `${base('translate.google.com')}/translate?u=http://fine.example/`,
    );
    expect(res.status).toBe(200);
    expect(lastRow()).toMatchObject({ host: 'translate.google.com', action: 'allow' });
  });
});
