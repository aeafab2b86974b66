/**
 * The proxy's own pages, for requests addressed to the proxy itself (origin-form, or its own name and
 * port): /healthz, /proxy.pac and /wpad.dat, the school CA certificate (/ca.crt DER, /ca.pem PEM) and the
 * staged next one during a renewal (/ca-next.crt, /ca-next.pem) with their install help (/ca), the school's logo (/schoolgate-logo, branding.logoFile), a short index, and /metrics (Prometheus text, for clients in admin.networks only). Never an access to the web, so no audit row. The CA's private key
 * is never reachable from here: only the public certificate is held by these handlers.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ReadonlyConfig } from '../config/load.js';
import type { Target } from '../policy/types.js';
import { clientAddress, type EdgeContext } from './edge-context.js';
import { renderPac } from './pages/pac.js';
import { renderPage, html } from './pages/html.js';
import { sendPage } from './respond.js';
import { renderCaHelpPage, type CaHelpInfo } from './pages/ca-help.js';
import type { SchoolCa } from '../tls/ca.js';
import type { SigningState } from '../audit/signing-state.js';

const LOCAL_NAMES = new Set(['localhost', '127.0.0.1', '::1']);

/** What `/metrics` serves (src/metrics/): attached by the proxy once its metrics exist. */
export interface MetricsPage {
  readonly contentType: string;
  render(): Promise<string>;
}

const metricsPages = new WeakMap<EdgeContext, MetricsPage>();

export function attachMetricsPage(edge: EdgeContext, page: MetricsPage): void {
  metricsPages.set(edge, page);
}

export function isOwnTarget(config: ReadonlyConfig, listenPort: number, target: Target): boolean {
  if (target.port !== listenPort) return false;
  return (
    target.host === config.proxyName || LOCAL_NAMES.has(target.host) || target.host === config.listen.host
  );
}

export function serveOwnPage(
  edge: EdgeContext,
  req: IncomingMessage,
  res: ServerResponse,
  pathAndQuery: string,
): void {
  const path = pathAndQuery.split('?')[0];
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { allow: 'GET, HEAD', 'content-length': 0, connection: 'close' });
    return void res.end();
  }
  switch (path) {
    case '/healthz': {
      const auditOk = (edge.audit as { healthy?: boolean }).healthy !== false;
      const inspectionOk = !edge.config.tls.inspect || edge.env.inspectionReady;
      // The illegal-content tier could not be loaded at start: every request is blocked (fail closed).
      const tierOk = edge.env.policy().lists.illegal?.state !== 'unusable';
      const status = !auditOk
        ? 'audit-unavailable'
        : !tierOk
          ? 'illegal-tier-unusable'
          : !inspectionOk
            ? 'inspection-unavailable'
            : 'ok';
      const ca = edge.tls?.ca;
      const body = JSON.stringify({
        status,
        auditQueue: edge.audit.queueDepth,
        inspection: inspectionOk,
        ...(ca ? { caNotAfter: ca.notAfter.toISOString() } : {}),
        ...(edge.nextCa() ? { caNextStaged: true } : {}),
        // Not a 503: the filter still records every request; the detail is for whoever watches the proxy.
        ...(signingFailing(edge.audit) ? { auditSigning: 'failing' } : {}),
      });
      return send(res, status === 'ok' ? 200 : 503, 'application/json', body, 'no-store');
    }
    case '/metrics':
      return serveMetrics(edge, req, res);
    case '/proxy.pac':
    case '/wpad.dat': {
      // pac.direct from the config in force: a reload changes the list (validated when the config loaded).
      const bypass = [...edge.env.policy().config.pac.direct];
      const body = renderPac({ proxyHost: pacHost(edge, req), proxyPort: edge.listenPort(), bypass });
      return send(res, 200, 'application/x-ns-proxy-autoconfig', body, 'max-age=300');
    }
    case '/schoolgate-logo': {
      // branding.logoFile, checked to be an image when loaded; nosniff so no browser reads it as anything else.
      const logo = edge.env.policy().branding?.logo;
      if (!logo) return send(res, 404, TEXT, 'no logo is configured (branding.logoFile)\n', 'no-store');
      res.writeHead(200, {
        'content-type': logo.type,
        'content-length': logo.bytes.length,
        'cache-control': 'max-age=300',
        'x-content-type-options': 'nosniff',
        'content-security-policy': "default-src 'none'",
      });
      return void res.end(logo.bytes);
    }
    case '/ca.crt':
    case '/ca.pem': {
      const ca = edge.tls?.ca;
      if (!ca) return send(res, 404, TEXT, `${noCa(edge)}\n`, 'no-store');
      return sendCertificate(req, res, ca, path === '/ca.crt', 'schoolgate-ca');
    }
    // The staged next CA on a URL of its own (not appended to /ca.crt): GPO, the Google Admin console and
    // MDM certificate payloads each take one certificate per import, and a DER or PEM file holding two is
    // read as its first only, so the new one must be a file a technician adds beside the current one.
    case '/ca-next.crt':
    case '/ca-next.pem': {
      const next = edge.nextCa();
      if (!next)
        return send(res, 404, TEXT, 'no next school CA is staged (`schoolgate ca renew`)\n', 'no-store');
      return sendCertificate(req, res, next, path === '/ca-next.crt', 'schoolgate-ca-next');
    }
    case '/ca':
      return sendPage(res, {
        status: edge.tls ? 200 : 404,
        body: renderCaHelpPage(
          edge.tls
            ? {
                certUrl: `http://${pacHost(edge, req)}:${String(edge.listenPort())}/ca.crt`,
                fingerprint256: edge.tls.ca.fingerprint256,
                subject: edge.tls.ca.subject,
                notAfter: edge.tls.ca.notAfter,
                next: nextInfo(edge, req),
              }
            : null,
        ),
      });
    case '/':
      return sendPage(res, {
        status: 200,
        body: renderPage({
          title: 'schoolgate web filter',
          tone: 'warn',
          heading: 'This is the school web filter',
          lead: 'Web traffic from school devices passes through here.',
          body: html`<p>
              Browsers use it as their proxy. Point a browser at
              <code>http://${pacHost(edge, req)}:${String(edge.listenPort())}/proxy.pac</code> (automatic
              proxy configuration).
            </p>
            <p>School devices must trust the school certificate: <a href="/ca">how to install it</a>.</p>`,
        }),
      });
    default:
      return send(res, 404, 'text/plain; charset=utf-8', 'not found\n', 'no-store');
  }
}

/** Prometheus text for the technician's machines (admin.networks); everyone else gets 403. */
function serveMetrics(edge: EdgeContext, req: IncomingMessage, res: ServerResponse): void {
  const text = TEXT;
  if (!edge.isAdmin(clientAddress(req.socket.remoteAddress)))
    return send(res, 403, text, 'forbidden: /metrics is only served to admin.networks\n', 'no-store');
  const page = metricsPages.get(edge);
  if (!page) return send(res, 404, text, 'metrics are not enabled on this proxy\n', 'no-store');
  page.render().then(
    (body) => send(res, 200, page.contentType, body, 'no-store'),
    (err: unknown) => {
      edge.logger.error({ err }, 'rendering /metrics failed');
      send(res, 500, text, 'metrics unavailable: see the proxy log\n', 'no-store');
    },
  );
}

const TEXT = 'text/plain; charset=utf-8';

function noCa(edge: EdgeContext): string {
  return edge.config.tls.inspect
    ? 'HTTPS inspection has no usable school CA (SG_CA_UNUSABLE): see the proxy log'
    : 'HTTPS inspection is off: no CA';
}

/** A CA certificate as a download: DER (.crt, what Windows and most MDMs import) or PEM. */
function sendCertificate(
  req: IncomingMessage,
  res: ServerResponse,
  ca: SchoolCa,
  der: boolean,
  name: string,
): void {
  res.writeHead(200, {
    'content-type': der ? 'application/x-x509-ca-cert' : 'application/x-pem-file',
    'content-disposition': `attachment; filename="${name}.${der ? 'crt' : 'pem'}"`,
    'cache-control': 'max-age=300',
    'content-length': der ? ca.certDer.length : Buffer.byteLength(ca.certPem),
  });
  res.end(req.method === 'HEAD' ? undefined : der ? ca.certDer : ca.certPem);
}

function nextInfo(edge: EdgeContext, req: IncomingMessage): CaHelpInfo['next'] {
  const next = edge.nextCa();
  if (!next) return null;
  return {
    certUrl: `http://${pacHost(edge, req)}:${String(edge.listenPort())}/ca-next.crt`,
    fingerprint256: next.fingerprint256,
    subject: next.subject,
    notAfter: next.notAfter,
  };
}

/** The name clients reached us by is the best name to put in the PAC file. */
function pacHost(edge: EdgeContext, req: IncomingMessage): string {
  const host = (req.headers.host ?? '').replace(/:\d+$/, '');
  return /^[A-Za-z0-9.-]{1,253}$/.test(host) ? host : edge.config.proxyName;
}

function send(res: ServerResponse, status: number, type: string, body: string, cache: string): void {
  res.writeHead(status, {
    'content-type': type,
    'cache-control': cache,
    'content-length': Buffer.byteLength(body),
  });
  res.end(body);
}

/** The audit store signs no checkpoints (a WorkerAuditStore's signing state; other stores have none). */
function signingFailing(audit: EdgeContext['audit']): boolean {
  return (audit as { signing?: SigningState }).signing?.state === 'failing';
}
