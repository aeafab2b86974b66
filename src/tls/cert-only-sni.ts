/**
 * Whether a TLS server started from a context holding only the shared leaf key can serve a host's
 * certificate from a cert-only context returned by the SNI callback.
 *
 * Why it matters: Node takes a key only as PEM, so a context with the key parses it again (about half of a
 * new host's context cost). In the SNI callback Node installs the returned context's certificate on the
 * connection (OpenSSL keeps the private key already there when it matches the certificate) and then its
 * key; a cert-only context has none, and Node 20 ignores that step's failure. That is not a documented
 * contract, so it is checked once per process with a real handshake on loopback before it is relied on,
 * and a Node where it fails keeps the full per-host contexts.
 */
import net, { type AddressInfo } from 'node:net';
import tls from 'node:tls';

/** How long the check may take before it counts as failed (a loaded machine at start). */
const CHECK_TIMEOUT_MS = 10_000;

export async function certOnlyContextsWork(
  keyContext: tls.SecureContext,
  certContext: tls.SecureContext,
  caPem: string,
  host: string,
): Promise<boolean> {
  const server = net.createServer((raw) => {
    const secure = new tls.TLSSocket(raw, {
      isServer: true,
      secureContext: keyContext,
      SNICallback: (_name, cb) => cb(null, certContext),
    });
    secure.on('error', () => raw.destroy());
    secure.once('secure', () => secure.end());
  });
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', resolve);
    });
    const { port } = server.address() as AddressInfo;
    return await new Promise<boolean>((resolve) => {
      const client = tls.connect({ host: '127.0.0.1', port, servername: host, ca: caPem });
      const timer = setTimeout(() => done(false), CHECK_TIMEOUT_MS);
      timer.unref();
      const done = (ok: boolean) => {
        clearTimeout(timer);
        client.destroy();
        resolve(ok);
      };
      // authorized: the chain verifies and the name is the host; the handshake itself proves the key.
      client.once('secureConnect', () => done(client.authorized));
      client.once('error', () => done(false));
    });
  } catch {
    return false;
  } finally {
    server.close();
  }
}
