/**
 * The school on its pages (config branding): name and logo in the page's header, a contact line at the
 * foot. The logo is inlined as a data: URI: a block page is shown on the blocked site's origin (inspected
 * HTTPS included), where a link back to the proxy would be cross-origin, maybe mixed content, and refused by
 * the pages' CSP (img-src data:). Its bytes were checked to be an image when it was loaded (src/proxy/logo.ts).
 */
import { html, type SafeHtml } from './html.js';

export interface Logo {
  /** image/png, image/jpeg, image/gif or image/webp, read from the file's first bytes. */
  type: string;
  bytes: Buffer;
}

export interface PageBranding {
  schoolName: string;
  contact: string;
  logo: Logo | null;
}

export function logoDataUri(logo: Logo): string {
  return `data:${logo.type};base64,${logo.bytes.toString('base64')}`;
}

/** The school's name and logo above the heading; nothing when neither is set. */
export function brandingHeader(b: PageBranding | undefined): SafeHtml | '' {
  if (!b || (!b.schoolName && !b.logo)) return '';
  const alt = b.schoolName ? `${b.schoolName} logo` : 'School logo';
  return html`<header class="school">
    ${b.logo ? html`<img class="logo" src="${logoDataUri(b.logo)}" alt="${alt}" />` : ''}
    ${b.schoolName ? html`<span class="school-name">${b.schoolName}</span>` : ''}
  </header>`;
}

/** Whom to ask, at the foot of the page; nothing when unset. */
export function contactLine(b: PageBranding | undefined): SafeHtml | '' {
  return b?.contact ? html`<p class="contact">${b.contact}</p>` : '';
}

export const BRANDING_STYLE =
  '.school{display:flex;align-items:center;gap:.75rem;margin:0 0 1rem}' +
  '.logo{max-height:4rem;max-width:12rem;width:auto;height:auto}' +
  '.school-name{font-weight:700;font-size:1.15em}' +
  '.contact{margin-top:1.25rem;padding-top:.75rem;border-top:1px solid var(--line);font-weight:700}';
