export { renderBlockPage, REASON_TEXT } from './block-page.js';
export { renderErrorPage, type ErrorPageInfo, type ErrorStatus } from './error-page.js';
export {
  displayAddress,
  escapeHtml,
  formatTime,
  html,
  PAGE_CSP,
  PAGE_HEADERS,
  raw,
  renderPage,
  safeHref,
  SafeHtml,
  type PageShell,
  type PageTone,
} from './html.js';
export { renderPac, type PacOptions } from './pac.js';
export type { PageCategory, PageInfo, PageReason } from './types.js';
export { renderWarnPage, type WarnPageInfo } from './warn-page.js';
