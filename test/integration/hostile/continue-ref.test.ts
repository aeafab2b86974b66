/**
 * The Continue form's `ref` is free text a client controls (issue 11 item 6): only a well-formed warn
 * reference reaches the audit row's reason, never CR/LF or anything glued after a real reference. Raw
 * POSTs through the running proxy, with a real warn token, so the Continue itself is accepted.
 */
import { appendFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { hiddenFields } from '../../helpers/page-forms.js';
import { tempDir, testConfig } from '../../helpers/schoolgate.js';
import { proxyWithOrigin, referenceIn, talk } from './harness.js';

const SITES = ['warn1.test', 'warn2.test', 'warn3.test', 'warn4.test', 'warn5.test'];
let nextSite = 0;

// Every loopback client is staff, who are warned (not blocked) on social sites; a Continue grants its site,
// so each case is warned on a social site of its own.
const t = proxyWithOrigin((P) => {
  const config = testConfig(
    {
      httpPorts: [P],
      identity: { networks: [{ cidr: '127.0.0.0/8', profile: 'staff' }] },
      hosts: Object.fromEntries(SITES.map((s) => [s, '127.0.0.1'])),
    },
    tempDir('schoolgate-continue-ref-'),
  );
  appendFileSync(path.join(config.categoriesDir, 'social', 'domains'), `${SITES.join('\n')}\n`);
  return config;
});

/** A warn page's Continue form fields, the warn row's reference, and the site (not yet granted). */
async function warned(): Promise<{ fields: Record<string, string>; reference: string; site: string }> {
  const site = SITES[nextSite++]!;
  const ex = await talk(
    t.sg.address.port,
    `GET http://${site}:${t.P}/feed HTTP/1.1\r\nHost: ${site}\r\n\r\n`,
  );
  expect(ex.status).toBe(403);
  const body = ex.final?.body ?? '';
  return { fields: hiddenFields(body), reference: referenceIn(body)!, site };
}

function postContinue(site: string, body: string): string {
  return [
    `POST http://${site}:${t.P}/.schoolgate/continue HTTP/1.1`,
    `Host: ${site}`,
    'Content-Type: application/x-www-form-urlencoded',
    `Content-Length: ${Buffer.byteLength(body)}`,
    'Connection: close',
    '',
    body,
  ].join('\r\n');
}

describe('Continue: the ref field', () => {
  it('a well-formed reference is kept (the control case)', async () => {
    const { fields, reference, site } = await warned();
    expect(fields.ref).toBe(reference);
    const mark = t.audit.mark();
    const ex = await talk(t.sg.address.port, postContinue(site, new URLSearchParams(fields).toString()));
    expect(ex.status).toBe(303);
    expect(t.audit.since(mark)).toMatchObject([{ action: 'continue', reason: `continue:${reference}` }]);
  });

  it.each([
    ['CR/LF and a forged line after a real reference', (ref: string) => `${ref}%0D%0Aaction: allow`],
    ['a bare LF after a real reference', (ref: string) => `${ref}%0A`],
    ['a CR before a real reference', (ref: string) => `%0D${ref}`],
    ['free text with CR/LF', () => 'hello%0D%0Aworld'],
  ])('%s: the Continue is accepted, the reason is only "continue:"', async (_what, ref) => {
    const { fields, reference, site } = await warned();
    const body = new URLSearchParams({ ...fields, ref: 'REF' }).toString().replace('REF', ref(reference));
    const mark = t.audit.mark();
    const ex = await talk(t.sg.address.port, postContinue(site, body));
    expect(ex.status).toBe(303);
    const rows = t.audit.since(mark);
    expect(rows).toMatchObject([{ action: 'continue', reason: 'continue:' }]);
    expect(rows[0]!.reason).not.toMatch(/[\r\n]/);
  });
});
