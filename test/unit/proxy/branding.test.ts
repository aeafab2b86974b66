/** Block and warn pages with the school's name, logo and contact line; the logo file's checks. */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { MAX_LOGO_BYTES, imageTypeOf, readLogo } from '../../../src/proxy/logo.js';
import type { PageBranding } from '../../../src/proxy/pages/branding.js';
import { renderBlockPage, renderWarnPage } from '../../../src/proxy/pages/index.js';
import type { PageInfo } from '../../../src/proxy/pages/types.js';
import { tempDir } from '../../helpers/schoolgate.js';

/** The smallest PNG: signature and a few bytes are all the check reads. */
const PNG = Buffer.concat([Buffer.from('89504e470d0a1a0a', 'hex'), Buffer.from('0000000d49484452', 'hex')]);

const info: PageInfo = {
  url: 'http://social.test/',
  host: 'social.test',
  categories: [{ name: 'social', title: 'Social networking' }],
  profile: 'pupil',
  user: 'jsmith',
  time: new Date('2026-03-02T10:00:00Z'),
  timeZone: 'Europe/London',
  reference: 'ref-1',
  explanation: 'Social networking is blocked for pupils.',
};
const branding: PageBranding = {
  schoolName: 'Hillside Primary <School>',
  contact: 'Ask Mr Patel in IT, room 12 & "it@hillside.example"',
  logo: { type: 'image/png', bytes: PNG },
};
const warnInfo = {
  ...info,
  continueAction: '/.schoolgate/continue',
  continueFields: { token: 't' },
  goBackUrl: 'about:blank',
  grantUntil: new Date('2026-03-02T16:00:00Z'),
  site: 'social.test',
};

describe('branding on the pages', () => {
  it.each([
    ['block', (b?: PageBranding) => renderBlockPage({ ...info, ...(b ? { branding: b } : {}) })],
    ['warn', (b?: PageBranding) => renderWarnPage({ ...warnInfo, ...(b ? { branding: b } : {}) })],
  ])('the %s page shows the school name, logo and contact line, escaped', (_kind, render) => {
    const page = render(branding);
    expect(page).toContain('<span class="school-name">Hillside Primary &lt;School&gt;</span>');
    expect(page).toContain(`src="data:image/png;base64,${PNG.toString('base64')}"`);
    expect(page).toContain('alt="Hillside Primary &lt;School&gt; logo"');
    expect(page).toContain(
      '<p class="contact">Ask Mr Patel in IT, room 12 &amp; &quot;it@hillside.example&quot;</p>',
    );
    expect(page).not.toContain('<School>');
    // The header comes before the heading, the contact line after the body.
    expect(page.indexOf('class="school"')).toBeLessThan(page.indexOf('<h1>'));
    expect(page.indexOf('class="contact"')).toBeGreaterThan(page.indexOf('<h1>'));

    const plain = render();
    expect(plain).not.toContain('class="school"');
    expect(plain).not.toContain('class="contact"');
  });

  it('shows the name alone when there is no logo, and nothing of an empty branding', () => {
    const page = renderBlockPage({ ...info, branding: { ...branding, logo: null } });
    expect(page).toContain('class="school-name"');
    expect(page).not.toContain('<img');
    const empty = renderBlockPage({ ...info, branding: { schoolName: '', contact: '', logo: null } });
    expect(empty).not.toContain('class="school"');
  });
});

describe('the logo file', () => {
  const dir = tempDir();
  const file = (name: string, bytes: Buffer) => {
    const p = path.join(dir, name);
    writeFileSync(p, bytes);
    return p;
  };

  it.each([
    ['PNG', PNG, 'image/png'],
    ['JPEG', Buffer.from('ffd8ffe000104a464946', 'hex'), 'image/jpeg'],
    ['GIF', Buffer.from('GIF89a\x01\x00\x01\x00', 'latin1'), 'image/gif'],
    ['WebP', Buffer.from('RIFF\x10\x00\x00\x00WEBPVP8 ', 'latin1'), 'image/webp'],
    ['SVG', Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'), null],
    ['HTML named .png', Buffer.from('<html><script>alert(1)</script></html>'), null],
    ['empty', Buffer.alloc(0), null],
  ])('%s is read as %s', (_what, bytes, type) => {
    expect(imageTypeOf(bytes)).toBe(type);
  });

  it('accepts an image up to the limit', () => {
    const p = file('logo.png', Buffer.concat([PNG, Buffer.alloc(MAX_LOGO_BYTES - PNG.length)]));
    expect(readLogo(p)).toMatchObject({ type: 'image/png' });
    expect(readLogo(null)).toBeNull();
  });

  it.each([
    ['too large', () => file('big.png', Buffer.concat([PNG, Buffer.alloc(MAX_LOGO_BYTES)])), /more than/],
    ['not an image', () => file('logo.svg', Buffer.from('<svg/>')), /not a PNG, JPEG, GIF or WebP/],
    ['missing', () => path.join(dir, 'nowhere.png'), /cannot be read/],
  ])('refuses a logo that is %s with SG_LOGO_INVALID', (_what, make, message) => {
    expect(() => readLogo(make())).toThrow(
      expect.objectContaining({ code: 'SG_LOGO_INVALID', message: expect.stringMatching(message) }),
    );
  });
});
