/**
 * /ca: how to install the school CA certificate, per platform. Short on purpose: a technician reads it once
 * per platform; each step names the console or setting to use.
 */
import { html, renderPage } from './html.js';

export interface CaHelpInfo {
  certUrl: string;
  fingerprint256: string;
  subject: string;
  notAfter: Date;
  /** The staged next CA during a renewal: devices install it beside the current one. */
  next: Omit<CaHelpInfo, 'next'> | null;
}

export function renderCaHelpPage(info: CaHelpInfo | null): string {
  if (!info)
    return renderPage({
      title: 'School certificate',
      tone: 'error',
      heading: 'HTTPS inspection is off',
      lead: 'This web filter has no school certificate to install.',
      body: html`<p>
        Turn on <code>tls.inspect</code> in the configuration, or run <code>schoolgate ca init</code>.
      </p>`,
    });
  return renderPage({
    title: 'Install the school certificate',
    tone: 'warn',
    heading: 'Install the school certificate',
    lead: 'School devices must trust this certificate so that the web filter can check secure (https) sites and show its pages on them.',
    body: html`<p><a href="${info.certUrl}">Download the certificate (schoolgate-ca.crt)</a></p>
      <p>
        Check it before trusting it: SHA-256 fingerprint <code>${info.fingerprint256}</code>, subject
        <code>${info.subject}</code>, valid until ${info.notAfter.toISOString().slice(0, 10)}.
      </p>
      ${info.next ? nextSection(info.next) : ''}
      <h2>Windows (Group Policy)</h2>
      <p>
        Group Policy Management → Computer Configuration → Policies → Windows Settings → Security Settings →
        Public Key Policies → Trusted Root Certification Authorities → Import. Chrome and Edge use this store.
      </p>
      <h2>ChromeOS (Google Admin console)</h2>
      <p>
        Devices → Networks → Certificates → Add certificate; tick "Chromebook" under "Certificate authority"
        for the organisational unit of pupil devices.
      </p>
      <h2>iPad and iPhone (MDM)</h2>
      <p>
        Add a Certificate payload with this file to the devices' configuration profile. Installed by hand it
        must also be trusted in Settings → General → About → Certificate Trust Settings.
      </p>
      <h2>macOS</h2>
      <p>
        Deploy it in a Certificate payload through MDM, or open it in Keychain Access (System keychain) and
        set "When using this certificate" to "Always Trust".
      </p>
      <h2>Firefox</h2>
      <p>
        Set the enterprise policy <code>Certificates.ImportEnterpriseRoots</code> to true (uses the system
        store), or <code>Certificates.Install</code> with this file; by hand: Settings → Privacy &amp;
        Security → Certificates → View Certificates → Authorities → Import.
      </p>
      <p>Banking and health sites, and apps that pin their certificates, are never inspected.</p>`,
  });
}

/** During a renewal: the next certificate, installed beside the current one (never instead of it). */
function nextSection(next: Omit<CaHelpInfo, 'next'>) {
  return html`<h2>New school certificate: install it as well</h2>
    <p>
      The school certificate is being renewed. Install
      <a href="${next.certUrl}">the new certificate (schoolgate-ca-next.crt)</a> on every device
      <strong>as well as</strong> the current one, the same way as below (a second import or payload). The
      filter switches to it once IT has rolled it out; devices without it will then show certificate errors.
      SHA-256 fingerprint <code>${next.fingerprint256}</code>, subject <code>${next.subject}</code>, valid
      until ${next.notAfter.toISOString().slice(0, 10)}.
    </p>`;
}
