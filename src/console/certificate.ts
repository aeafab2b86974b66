/**
 * The console's certificate, issued by the school CA (src/tls/): devices enrolled for HTTPS inspection
 * already trust it, so the console needs no certificate of its own to install. One leaf per name the
 * console answers to (its configured name, this machine's host name, localhost, the listening address),
 * signed by the same LeafCertificates the proxy uses and kept in `<dataDir>/console-tls/` (owner-only; a
 * restart reuses them); any other name gets the default one.
 */
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import net from 'node:net';
import path from 'node:path';
import type tls from 'node:tls';
import { loadOrCreateCa } from '../tls/ca.js';
import { LeafCertificates } from '../tls/leaf.js';
import { LeafStore } from '../tls/leaf-store.js';

export interface ConsoleTls {
  /** The name the console's URL uses. */
  name: string;
  /** Key and chain for clients that send no SNI (an address typed in the bar). */
  key: string;
  cert: string;
  SNICallback: (servername: string, cb: (err: Error | null, ctx?: tls.SecureContext) => void) => void;
}

export async function consoleTls(opts: {
  certsDir: string;
  dataDir: string;
  caName: string | null;
  name: string | null;
  host: string;
  validityDays: number;
}): Promise<ConsoleTls> {
  const { ca } = loadOrCreateCa(opts.certsDir, opts.caName);
  const store = new LeafStore(path.join(opts.dataDir, 'console-tls'), 16);
  const leaves = new LeafCertificates(ca, { validityDays: opts.validityDays, cacheSize: 16, store });
  const name = (opts.name ?? hostname()).toLowerCase();
  const names = new Set([name, 'localhost', hostname().toLowerCase()]);
  const unspecified = opts.host === '0.0.0.0' || opts.host === '::';
  const fallback = net.isIP(opts.host) && !unspecified ? opts.host : name;
  const first = await leaves.get(fallback);
  return {
    name,
    key: readFileSync(path.join(store.dir, 'leaf-key.pem'), 'utf8'),
    cert: first.certPem + ca.certPem,
    SNICallback: (servername, cb) => {
      const host = servername.toLowerCase();
      leaves.get(names.has(host) ? host : fallback).then(
        (leaf) => cb(null, leaf.context()),
        (err: unknown) => cb(err instanceof Error ? err : new Error(String(err))),
      );
    },
  };
}
