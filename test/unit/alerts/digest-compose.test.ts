/**
 * What a pupil types ends up in the DSL's mailbox: the digest's text and HTML parts over hostile search
 * terms and addresses — escaped, defanged, control and direction-override characters made visible, no link.
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { composeDigest } from '../../../src/alerts/digest/compose.js';
import type { AlertWrite } from '../../../src/audit/alerts-table.js';
import { openSqliteAuditStore } from '../../../src/audit/sqlite-store.js';
import { alertWrite } from '../../helpers/alert-setup.js';
import { tempDir } from '../../helpers/schoolgate.js';

const FROM = Date.parse('2026-03-23T00:00:00Z');
const TO = Date.parse('2026-03-29T23:00:00Z');

function alert(n: number, fields: Partial<AlertWrite>): AlertWrite {
  const at = FROM + n * 60_000;
  return alertWrite({
    id: `01900000-0000-7000-8000-${String(n).padStart(12, '0')}`,
    firstTime: at,
    lastTime: at,
    clientIp: '10.0.0.7',
    ...fields,
  });
}

async function composeWith(alerts: AlertWrite[]) {
  const auditPath = path.join(tempDir('sg-digest-compose-'), 'audit.sqlite');
  const store = openSqliteAuditStore({ path: auditPath, batchMaxRows: 10 });
  for (const a of alerts) store.writeAlert(a);
  await store.close();
  return composeDigest({
    auditPath,
    timeZone: 'Europe/London',
    now: TO + 7 * 3_600_000,
    categories: new Map(),
    job: { kind: 'weekly', dueAt: TO + 7 * 3_600_000, fromMs: FROM, toMs: TO, late: false },
    by: 'schoolgate',
    osUser: 'schoolgate',
  });
}

describe('the digest over hostile input', () => {
  it('escapes markup, defangs addresses and e-mail addresses, and shows control characters', async () => {
    const d = await composeWith([
      alert(1, { searchTerm: '<script>alert(1)</script> <a href="https://evil.example">x</a>' }),
      alert(2, { rule: 'category:extremism', url: 'https://evil.example/join?ref=x@y.example' }),
      alert(3, { searchTerm: 'kill \u202emyself\u202c\r\nBcc: all@school.example' }),
      alert(4, { user: null, searchTerm: 'ftp://files.evil.example/a.zip' }),
    ]);
    expect(d.html).not.toMatch(/<script|<a\s/i); // in the text part, markup is only characters
    for (const part of [d.text, d.html]) {
      expect(part).not.toMatch(/https?:\/\/|ftp:\/\//);
      expect(part).not.toContain('evil.example');
      expect(part).not.toContain('\u202e');
      expect(part).toContain('hxxps://evil[.]example/join?ref=x[@]y[.]example');
      expect(part).toContain('fxp://files[.]evil[.]example/a[.]zip');
      expect(part).toContain('guest at 10.0.0.7');
    }
    expect(d.html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(d.text).toContain('kill \ufffdmyself\ufffd\u240d\u240aBcc: all[@]school[.]example');
    expect(d.subject).toBe(
      '[schoolgate] Weekly safeguarding digest 2026-03-23 to 2026-03-29: 4 alerts (4 danger), 2 people to review',
    );
  });

  it('more alerts than a mail shows are counted and pointed to', async () => {
    const many = Array.from({ length: 205 }, (_, i) => alert(i + 1, { searchTerm: `term ${i}` }));
    const d = await composeWith(many);
    expect(d.text).toContain('5 more not shown: schoolgate alerts list --since 2026-03-23T00:00');
    expect(d.text.match(/^\* danger/gm)).toHaveLength(200);
  });
});
