import { describe, expect, it } from 'vitest';
import { findProxy } from '../../helpers/pac.js';
import { isSchoolgateError } from '../../../src/errors.js';
import {
  displayAddress,
  escapeHtml,
  html,
  PAGE_CSP,
  PAGE_HEADERS,
  raw,
  renderBlockPage,
  renderErrorPage,
  renderPac,
  renderWarnPage,
  safeHref,
  type PageInfo,
} from '../../../src/proxy/pages/index.js';

/** G03/G04 of /work/shared/hostile-inputs.md, and friends. */
const HOSTILE = {
  script: '<script>alert(1)</script>',
  attr: '"><img src=x onerror=alert(1)>',
  single: "'><svg onload=alert(1)>",
  crlf: '/x\r\nFAKE LINE: yes',
  nul: 'a\u0000b',
  bidi: 'moc.elgoog\u202e',
  comment: '--><script>alert(2)</script><!--',
};

function pageInfo(over: Partial<PageInfo> = {}): PageInfo {
  return {
    url: 'http://www.facebook.com/profile',
    host: 'www.facebook.com',
    categories: [{ name: 'social', title: 'Social networking' }],
    profile: 'pupils',
    user: 'jsmith',
    time: new Date('2026-03-02T14:05:09Z'),
    timeZone: 'Europe/London',
    reference: '0b6f3c1e-5d2a-4c8e-9a51-3f7d2e1c9b40',
    explanation: 'social is blocked for the pupils profile (facebook.com).',
    ...over,
  };
}

/** No hostile value may become markup: no injected element, attribute or event handler. */
function expectNoInjection(page: string): void {
  expect(page).not.toMatch(/<script/i);
  expect(page).not.toMatch(/<img/i);
  expect(page).not.toMatch(/<svg[^>]*onload/i);
  // Attribute values are quoted and escaped; outside them, no tag may carry an event handler.
  const outsideValues = page.replace(/"[^"]*"/g, '""');
  expect(outsideValues).not.toMatch(/<[^>]*\son\w+=/i);
  for (const ch of ['\r', '\u0000', '\u202e']) expect(page).not.toContain(ch);
}

describe('escapeHtml', () => {
  it.each([
    ['&', '&amp;'],
    ['<', '&lt;'],
    ['>', '&gt;'],
    ['"', '&quot;'],
    ["'", '&#39;'],
    ['plain text', 'plain text'],
    [HOSTILE.script, '&lt;script&gt;alert(1)&lt;/script&gt;'],
    [HOSTILE.attr, '&quot;&gt;&lt;img src=x onerror=alert(1)&gt;'],
    [HOSTILE.crlf, '/x\u240d\u240aFAKE LINE: yes'],
    [HOSTILE.nul, 'a\u2400b'],
    ['tab\there', 'tab\u2409here'],
    ['del\u007f', 'del\u2421'],
    ['c1\u0085', 'c1\ufffd'],
    [HOSTILE.bidi, 'moc.elgoog\ufffd'],
    ['line\u2028sep', 'line\ufffdsep'],
    ['lone \ud800 surrogate', 'lone \ufffd surrogate'],
    ['emoji 😀 and bücher', 'emoji 😀 and bücher'],
    ['&amp; already', '&amp;amp; already'],
  ])('escapes %j', (input, expected) => {
    expect(escapeHtml(input)).toBe(expected);
  });

  it('renders null and undefined as empty and other values as strings', () => {
    expect(escapeHtml(null)).toBe('');
    expect(escapeHtml(undefined)).toBe('');
    expect(escapeHtml(42)).toBe('42');
  });
});

describe('displayAddress', () => {
  it.each([
    ['http://a.example/x\r\nFAKE LINE', 'http://a.example/x%0D%0AFAKE LINE'],
    ['http://a.example/\u0000\t\u007f', 'http://a.example/%00%09%7F'],
    ['http://a.example/\u202egpj.exe', 'http://a.example/%E2%80%AEgpj.exe'],
    ['http://a.example/zero\u200bwidth', 'http://a.example/zero%E2%80%8Bwidth'],
    ['http://bücher.example/ü', 'http://bücher.example/ü'],
  ])('%j → %j', (input, expected) => {
    expect(displayAddress(input)).toBe(expected);
  });
});

describe('html tagged template', () => {
  it('escapes every interpolated value', () => {
    expect(html`<p title="${HOSTILE.attr}">${HOSTILE.script}</p>`.html).toBe(
      '<p title="&quot;&gt;&lt;img src=x onerror=alert(1)&gt;">&lt;script&gt;alert(1)&lt;/script&gt;</p>',
    );
  });

  it('inserts raw() and nested html as is, joins arrays, drops null/undefined/false', () => {
    const inner = html`<b>${'<i>'}</b>`;
    expect(html`${raw('<hr>')}${inner}${['<a>', raw('<br>')]}${null}${undefined}${false}`.html).toBe(
      '<hr><b>&lt;i&gt;</b>&lt;a&gt;<br>',
    );
  });
});

describe('safeHref', () => {
  it.each([
    ['/.schoolgate/continue', '/.schoolgate/continue'],
    ['https://example.org/back?x=1', 'https://example.org/back?x=1'],
    ['http://example.org/', 'http://example.org/'],
    ['javascript:alert(1)', null],
    [' javascript:alert(1)', null],
    ['JaVaScRiPt:alert(1)', null],
    ['data:text/html,<script>alert(1)</script>', null],
    ['//evil.example/', null],
    ['/\\evil.example/', null],
    ['/x\r\nSet-Cookie: a=b', null],
    ['', null],
    [undefined, null],
  ])('%j → %j', (input, expected) => {
    expect(safeHref(input)).toBe(expected);
  });
});

describe('page headers', () => {
  it('exports the agreed Content-Security-Policy', () => {
    expect(PAGE_CSP).toBe(
      "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
    );
    expect(PAGE_HEADERS['content-security-policy']).toBe(PAGE_CSP);
    expect(PAGE_HEADERS['content-type']).toBe('text/html; charset=utf-8');
  });
});

describe('block page', () => {
  it('says it is blocked by the school filter, why, the profile, the time in en-GB and the reference', () => {
    const page = renderBlockPage(pageInfo());
    expect(page).toMatch(/^<!doctype html>/);
    expect(page).toContain('This page is blocked');
    expect(page).toContain('The school&#39;s web filter has blocked this page.');
    expect(page).toContain('Social networking');
    expect(page).toContain('<strong>pupils</strong>');
    expect(page).toContain('jsmith');
    expect(page).toContain('Monday, 2 March 2026 at 14:05:09 GMT');
    expect(page).toContain('0b6f3c1e-5d2a-4c8e-9a51-3f7d2e1c9b40');
    expect(page).toContain('http://www.facebook.com/profile');
    expect(page).toContain(
      'If you reached this by accident, close it and tell a teacher — this record protects you.',
    );
  });

  it('shows summer time in the school time zone', () => {
    const page = renderBlockPage(pageInfo({ time: new Date('2026-07-02T14:05:09Z') }));
    expect(page).toContain('Thursday, 2 July 2026 at 15:05:09 BST');
  });

  it('lists several category titles in words, once each', () => {
    const page = renderBlockPage(
      pageInfo({
        categories: [
          { name: 'chat', title: 'Chat rooms' },
          { name: 'social', title: 'Social networking' },
          { name: 'social2', title: 'Social networking' },
          { name: 'games', title: 'Online games' },
        ],
      }),
    );
    expect(page).toContain(
      'categories: <span class="cats">Chat rooms, Social networking and Online games</span>',
    );
  });

  it('has no script, no external asset and no form unless a report URL is given', () => {
    const page = renderBlockPage(pageInfo());
    expect(page).not.toMatch(/<script|<link|<img|src=|@import|url\(/i);
    expect(page).not.toContain('<form');
    const withReport = renderBlockPage(pageInfo({ reportAccidentUrl: '/.schoolgate/report' }));
    expect(withReport).toContain('<form method="post" action="/.schoolgate/report">');
    expect(withReport).toContain('name="reference" value="0b6f3c1e-5d2a-4c8e-9a51-3f7d2e1c9b40"');
    expect(withReport).toContain('I reached this by accident');
  });

  it('drops a report URL that is not http(s) or a same-origin path', () => {
    const page = renderBlockPage(pageInfo({ reportAccidentUrl: 'javascript:alert(1)' }));
    expect(page).not.toContain('javascript:');
    expect(page).not.toContain('<form');
  });

  it.each([
    ['policy-error', 'could not check this page'],
    ['port', 'unusual connection (port)'],
    ['ip-literal', 'bare number (an IP address)'],
    ['client-network', 'not on a school network'],
    ['bad-request', 'could not understand'],
    ['audit-unavailable', 'cannot write its records'],
    ['upstream-error', 'could not be reached'],
  ] as const)('explains reason %s in plain words', (reason, words) => {
    expect(renderBlockPage(pageInfo({ reason, categories: [] }))).toContain(words);
  });

  it.each(Object.entries(HOSTILE))('escapes hostile %s in every field', (_name, hostile) => {
    const page = renderBlockPage(
      pageInfo({
        url: `http://blocked.example/${hostile}`,
        host: hostile,
        categories: [{ name: hostile, title: hostile }],
        profile: hostile,
        user: hostile,
        reference: hostile,
        explanation: hostile,
        timeZone: hostile,
        reportAccidentUrl: `/report?${hostile}`,
      }),
    );
    expectNoInjection(page);
  });

  it('shows a CRLF in the address visibly (percent-encoded) instead of folding it', () => {
    const page = renderBlockPage(pageInfo({ url: `http://blocked.example${HOSTILE.crlf}` }));
    expect(page).toContain('http://blocked.example/x%0D%0AFAKE LINE: yes');
  });

  it('falls back to UTC for an unknown time zone instead of failing', () => {
    expect(renderBlockPage(pageInfo({ timeZone: 'Mars/Olympus' }))).toContain(
      'Monday, 2 March 2026 at 14:05:09 UTC',
    );
  });
});

describe('warn page', () => {
  const warn = (over: Partial<Parameters<typeof renderWarnPage>[0]> = {}): string =>
    renderWarnPage({
      ...pageInfo({
        url: 'https://www.youtube.com/watch?v=abc',
        host: 'www.youtube.com',
        categories: [{ name: 'streaming', title: 'Video and audio streaming' }],
        profile: 'staff',
        user: 'mrs.jones',
        time: new Date('2026-03-02T10:00:00Z'),
      }),
      continueAction: '/.schoolgate/continue',
      continueFields: { token: 'abc.def', url: 'https://www.youtube.com/watch?v=abc' },
      goBackUrl: 'https://intranet.school.uk/',
      grantUntil: new Date('2026-03-02T15:30:00Z'),
      site: 'youtube.com',
      ...over,
    });

  it('says restricted for business/educational use, with Continue (POST) and Go back', () => {
    const page = warn();
    expect(page).toContain('for business or educational use only');
    expect(page).toContain('Video and audio streaming');
    expect(page).toContain('<form method="post" action="/.schoolgate/continue">');
    expect(page).toContain('<input type="hidden" name="token" value="abc.def" />');
    expect(page).toContain('<input type="hidden" name="url" value="https://www.youtube.com/watch?v=abc" />');
    expect(page).toMatch(/<button class="btn btn-primary" type="submit">Continue<\/button>/);
    expect(page).toContain('href="https://intranet.school.uk/">Go back</a>');
  });

  it('says continuing is recorded and until when the permission lasts', () => {
    const page = warn();
    expect(page).toContain('If you continue, this is recorded');
    expect(page).toContain('<strong>youtube.com</strong> until 15:30 today');
    const tomorrow = warn({ grantUntil: new Date('2026-03-03T08:00:00Z') });
    expect(tomorrow).toContain('until Tuesday, 3 March 2026 at 08:00:00 GMT');
  });

  it('goes back to a blank page when no safe go-back URL is given', () => {
    expect(warn({ goBackUrl: 'javascript:history.back()' })).toContain('href="about:blank">Go back</a>');
  });

  it('refuses a continue action that is not a URL or same-origin path', () => {
    expect(() => warn({ continueAction: 'javascript:alert(1)' })).toThrow(TypeError);
  });

  it.each(Object.entries(HOSTILE))('escapes hostile %s in fields and hidden inputs', (_name, hostile) => {
    const page = warn({
      url: `http://w.example/${hostile}`,
      host: hostile,
      user: hostile,
      site: hostile,
      categories: [{ name: hostile, title: hostile }],
      continueFields: { [hostile]: hostile },
      goBackUrl: `/back?${hostile}`,
    });
    expectNoInjection(page);
  });
});

describe('error page', () => {
  it.each([
    [400, 'This request could not be understood'],
    [502, 'This site could not be reached'],
    [503, 'The web filter is not available right now'],
    [504, 'This site took too long to answer'],
  ] as const)('%i has its heading, reason line and reference', (status, heading) => {
    const page = renderErrorPage({
      status,
      url: 'http://example.org/',
      reference: 'ref-123',
      time: new Date('2026-03-02T14:05:09Z'),
      timeZone: 'Europe/London',
    });
    expect(page).toContain(heading);
    expect(page).toContain('ref-123');
    expect(page).toContain(`<dd>${status}</dd>`);
    expect(page).toContain('Monday, 2 March 2026 at 14:05:09 GMT');
  });

  it('uses the detail line when given and escapes it', () => {
    const page = renderErrorPage({
      status: 504,
      detail: HOSTILE.script,
      url: HOSTILE.attr,
      time: new Date(),
      timeZone: 'Europe/London',
    });
    expectNoInjection(page);
    expect(page).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
  });
});

describe('PAC file', () => {
  const pac = renderPac({
    proxyHost: 'proxy.school.uk',
    proxyPort: 3128,
    bypass: [
      'proxy.school.uk',
      'intranet.school.uk',
      '*.sims.local',
      '.moodle.school.uk',
      '10.20.0.0/16',
      '192.168.5.7',
    ],
  });

  it.each([
    ['http://www.bbc.co.uk/', 'PROXY proxy.school.uk:3128'],
    ['https://WWW.Facebook.com/', 'PROXY proxy.school.uk:3128'],
    ['http://intranet/', 'DIRECT'],
    ['http://localhost:8080/', 'DIRECT'],
    ['http://127.0.0.1/', 'DIRECT'],
    ['http://[::1]/', 'DIRECT'],
    ['http://[2001:db8::1]/', 'PROXY proxy.school.uk:3128'],
    ['http://proxy.school.uk:3128/proxy.pac', 'DIRECT'],
    ['http://intranet.school.uk/', 'DIRECT'],
    ['http://a.intranet.school.uk/', 'DIRECT'],
    ['http://notintranet.school.uk/', 'PROXY proxy.school.uk:3128'],
    ['http://sims.local/', 'DIRECT'],
    ['http://x.sims.local/', 'DIRECT'],
    ['http://moodle.school.uk/', 'DIRECT'],
    ['http://10.20.3.4/', 'DIRECT'],
    ['http://10.21.3.4/', 'PROXY proxy.school.uk:3128'],
    ['http://192.168.5.7/', 'DIRECT'],
    ['http://192.168.5.8/', 'PROXY proxy.school.uk:3128'],
    ['http://intranet.school.uk.evil.example/', 'PROXY proxy.school.uk:3128'],
  ])('%s → %s', (url, expected) => {
    expect(findProxy(pac, url)).toBe(expected);
  });

  it('has no DIRECT fallback after the proxy (fails closed)', () => {
    expect(pac).not.toMatch(/PROXY [^"]*; DIRECT/);
  });

  it('brackets an IPv6 proxy address', () => {
    const v6 = renderPac({ proxyHost: '2001:db8::10', proxyPort: 8080, bypass: [] });
    expect(findProxy(v6, 'http://example.org/')).toBe('PROXY [2001:db8::10]:8080');
  });

  it.each([
    ['proxyHost', { proxyHost: 'evil"); alert(1); ("', proxyPort: 3128, bypass: [] }],
    ['proxyHost', { proxyHost: 'proxy\nschool', proxyPort: 3128, bypass: [] }],
    ['proxyHost', { proxyHost: '</script><script>alert(1)</script>', proxyPort: 3128, bypass: [] }],
    ['proxyHost', { proxyHost: '', proxyPort: 3128, bypass: [] }],
    ['proxyPort', { proxyHost: 'proxy', proxyPort: 0, bypass: [] }],
    ['proxyPort', { proxyHost: 'proxy', proxyPort: 65536, bypass: [] }],
    ['proxyPort', { proxyHost: 'proxy', proxyPort: 31.28, bypass: [] }],
    ['bypass', { proxyHost: 'proxy', proxyPort: 3128, bypass: ['a.com"]; alert(1); //'] }],
    ['bypass', { proxyHost: 'proxy', proxyPort: 3128, bypass: ['10.0.0.0/33'] }],
    ['bypass', { proxyHost: 'proxy', proxyPort: 3128, bypass: ['300.1.1.1'] }],
    ['bypass', { proxyHost: 'proxy', proxyPort: 3128, bypass: ['fd00::/8'] }],
    ['bypass', { proxyHost: 'proxy', proxyPort: 3128, bypass: ['a..b'] }],
    ['bypass', { proxyHost: 'proxy', proxyPort: 3128, bypass: ['a.com\u2028alert(1)'] }],
  ])('rejects a hostile or invalid %s with SG_CONFIG_INVALID', (field, options) => {
    let caught: unknown;
    try {
      renderPac(options);
    } catch (err) {
      caught = err;
    }
    expect(isSchoolgateError(caught)).toBe(true);
    if (isSchoolgateError(caught)) {
      expect(caught.code).toBe('SG_CONFIG_INVALID');
      expect(caught.context.field).toBe(field);
    }
  });

  it('normalises case, wildcards and duplicates, and masks CIDR bases', () => {
    const text = renderPac({
      proxyHost: 'Proxy.School.UK.',
      proxyPort: 3128,
      bypass: ['Intranet.School.UK', '*.intranet.school.uk', '10.20.30.40/16', ''],
    });
    expect(text).toContain('"PROXY proxy.school.uk:3128"');
    expect(text).toContain('var domains = ["intranet.school.uk"];');
    expect(text).toContain('var nets = [["10.20.0.0", "255.255.0.0"]];');
  });
});

describe('the block page’s unblock request', () => {
  const offer = {
    action: '/.schoolgate/unblock',
    fields: { token: 'tok.en', site: 'www.facebook.com', ref: 'r', url: HOSTILE.attr },
  };

  it('offers a bounded form posting to the page’s own origin, every field escaped', () => {
    const page = renderBlockPage(pageInfo({ unblock: offer }));
    expect(page).toContain('<form method="post" action="/.schoolgate/unblock">');
    expect(page).toMatch(
      /<textarea\s+id="unblock-reason"\s+name="reason"\s+rows="3"\s+maxlength="500"\s+required\s*>/,
    );
    expect(page).not.toContain(HOSTILE.attr);
    expect(page).toContain(escapeHtml(HOSTILE.attr));
  });

  it('says a request is waiting instead of offering a second form', () => {
    const at = new Date('2026-03-02T10:00:00Z');
    const page = renderBlockPage(
      pageInfo({ unblock: { ...offer, last: { status: 'pending', at, note: null } } }),
    );
    expect(page).toContain('IT have not answered yet');
    expect(page).not.toContain('name="reason"');
  });

  it('shows a denial with its note (escaped) and lets the person ask again', () => {
    const at = new Date('2026-03-02T10:00:00Z');
    const page = renderBlockPage(
      pageInfo({ unblock: { ...offer, last: { status: 'denied', at, note: HOSTILE.script } } }),
    );
    expect(page).toContain('Your request was denied');
    expect(page).toContain(escapeHtml(HOSTILE.script));
    expect(page).not.toContain(HOSTILE.script);
    expect(page).toContain('name="reason"');
  });

  it('offers nothing for an action that is not a same-origin path or http(s) URL', () => {
    expect(renderBlockPage(pageInfo({ unblock: { ...offer, action: 'javascript:alert(1)' } }))).not.toContain(
      'name="reason"',
    );
  });
});
