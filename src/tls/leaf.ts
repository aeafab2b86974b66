/**
 * Leaf certificates for intercepted hosts, signed by the school CA. One leaf key pair (ECDSA P-256) serves every host
 * (generated once with native crypto, as mitmproxy and mockttp do: key generation is the slow part); each
 * host gets its own short-lived certificate with a random serial, SAN (DNS, or IP for literals) and the key
 * usage current Chromium and Firefox require (digitalSignature + keyEncipherment, EKU serverAuth).
 * Certificates are cached in a bounded, expiry-aware LRU; concurrent first requests for one host share one
 * signing (the pending promise), so a burst of tabs never signs the same host twice. With a LeafStore the
 * key and the minted certificates also live on disk (leaf-store.ts), checked again before use.
 *
 * The key is parsed once: one SecureContext holds it, and each host gets a context with its certificate
 * only, chosen in the handshake's SNI callback (cert-only-sni.ts). A client without SNI, or a Node
 * where that does not work, gets a full context (key + chain) per host, built on first need.
 */
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  sign,
  X509Certificate,
} from 'node:crypto';
import net from 'node:net';
import tls from 'node:tls';
import { LRUCache } from 'lru-cache';
import { randomSerial, type SchoolCa } from './ca.js';
import { certOnlyContextsWork } from './cert-only-sni.js';
import { certificateDer, certificatePem, leafTbs, leafTemplate, type LeafTemplate } from './leaf-der.js';
import type { LeafStore } from './leaf-store.js';

export interface LeafOptions {
  validityDays: number;
  cacheSize: number;
  now?: () => Date;
  /** Minted leaves and the leaf key on disk (a restart does not sign them again); none: memory only. */
  store?: LeafStore | null;
}

export interface Leaf {
  host: string;
  certPem: string;
  /** The leaf certificate alone, built on first call: served over `keyContext` through the SNI callback. */
  certContext(): tls.SecureContext;
  /** Key + chain, built on first call (clients without SNI). */
  context(): tls.SecureContext;
  notAfter: Date;
}

export class LeafCertificates {
  private readonly keyPem: string;
  private readonly spki: Buffer;
  /** The leaf key alone, parsed once: every SNI handshake starts from it. */
  readonly keyContext: tls.SecureContext;
  /** Whether per-host cert-only contexts work here (checked once by a loopback handshake). */
  certOnly = false;
  private caX509!: X509Certificate;
  private readonly cache: LRUCache<string, Leaf>;
  private readonly pending = new Map<string, Promise<Leaf>>();
  private readonly now: () => Date;
  private template!: LeafTemplate;
  /** Certificates signed since start (for stats and the dedupe test). */
  signed = 0;
  /** Minted leaves the disk store could not keep. */
  storeFailures = 0;
  /** Lookups answered from the cache, and lookups that were not (signed now, or joined a signing in flight). */
  hits = 0;
  misses = 0;

  constructor(
    private ca: SchoolCa,
    private readonly opts: LeafOptions,
  ) {
    // ECDSA P-256: a handshake costs the proxy one P-256 signature instead of an RSA-2048 private-key
    // operation (several times cheaper). The CA stays RSA, so the certificate is signed sha256WithRSA.
    const generate = () =>
      generateKeyPairSync('ec', {
        namedCurve: 'prime256v1',
        privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
        publicKeyEncoding: { type: 'spki', format: 'der' },
      }).privateKey;
    this.keyPem = opts.store ? opts.store.key(isP256Key, generate) : generate();
    this.spki = createPublicKey(this.keyPem).export({ type: 'spki', format: 'der' });
    this.keyContext = tls.createSecureContext({ key: this.keyPem });
    this.now = opts.now ?? (() => new Date());
    // Re-sign a day before expiry; validity below one day still gets an hour of use.
    const ttl = Math.max(3600_000, (opts.validityDays - 1) * 86_400_000);
    this.cache = new LRUCache({ max: opts.cacheSize, ttl });
    this.useCa(ca);
  }

  /**
   * Signs with `ca` from now on (a CA renewal activated by reload) and drops every cached leaf: they chain to
   * the old CA. A signing already queued runs after this, so it signs with `ca` too. Counters carry on.
   */
  useCa(ca: SchoolCa): void {
    this.ca = ca;
    this.caX509 = new X509Certificate(ca.certPem);
    this.cache.clear();
    this.template = leafTemplate(ca.cert, this.spki);
  }

  /** base64 SHA-256 of the shared leaf SubjectPublicKeyInfo (Chromium's --ignore-certificate-errors-spki-list). */
  get spkiSha256(): string {
    return createHash('sha256').update(this.spki).digest('base64');
  }

  get cachedHosts(): number {
    return this.cache.size;
  }

  /** The leaf for a host (lowercase ASCII name or IP literal): from cache, or signed once. */
  get(host: string): Promise<Leaf> {
    const cached = this.cache.get(host);
    if (cached) {
      this.hits++;
      return Promise.resolve(cached);
    }
    this.misses++;
    const inFlight = this.pending.get(host);
    if (inFlight) return inFlight;
    const promise = new Promise<Leaf>((resolve, reject) => {
      // Yield first so that concurrent callers in this tick join the same promise.
      setImmediate(() => {
        try {
          const stored = this.fromStore(host);
          const leaf = stored ?? this.sign(host);
          if (!stored) {
            this.signed++;
            this.keep(host, leaf.certPem);
          }
          this.cache.set(host, leaf, { ttl: this.ttlOf(leaf) });
          resolve(leaf);
        } catch (err) {
          reject(err instanceof Error ? err : new Error(String(err)));
        } finally {
          this.pending.delete(host);
        }
      });
    });
    this.pending.set(host, promise);
    return promise;
  }

  private sign(host: string): Leaf {
    const now = this.now();
    const notAfter = new Date(now.getTime() + this.opts.validityDays * 86_400_000);
    const fields = {
      host,
      serialHex: randomSerial(),
      notBefore: new Date(now.getTime() - 3600_000), // tolerate small client clock skew
      notAfter: notAfter < this.ca.notAfter ? notAfter : this.ca.notAfter,
    };
    // Written straight to DER (leaf-der.ts) and signed by the CA key in native crypto: sha256WithRSA.
    const tbs = leafTbs(this.template, fields);
    const der = certificateDer(tbs, sign('sha256', tbs, this.ca.keyObject));
    // DER has no fractional seconds: the leaf expires at the whole second it says.
    const expires = new Date(Math.floor(fields.notAfter.getTime() / 1000) * 1000);
    return this.leafOf(host, certificatePem(der), expires);
  }

  /**
   * Checks once, with a real handshake on loopback, that a cert-only context chosen in the SNI callback
   * serves with the shared key here; until it says so (and if it fails) every host gets a full context.
   */
  async checkCertOnly(): Promise<boolean> {
    const probe = this.sign('schoolgate-probe.invalid');
    this.certOnly = await certOnlyContextsWork(
      this.keyContext,
      probe.certContext(),
      this.ca.certPem,
      probe.host,
    );
    return this.certOnly;
  }

  private leafOf(host: string, certPem: string, notAfter: Date): Leaf {
    const chain = certPem + this.ca.certPem;
    let certOnly: tls.SecureContext | undefined;
    let full: tls.SecureContext | undefined;
    return {
      host,
      certPem,
      notAfter,
      // The leaf alone: Node installs a key-less SNI context's certificate but never its chain (the key
      // step fails first, cert-only-sni.ts), so a chain here was only parsed, never sent. Clients get the
      // leaf and chain it to the school CA they trust, as they did before.
      certContext: () => (certOnly ??= tls.createSecureContext({ cert: certPem })),
      context: () => (full ??= tls.createSecureContext({ key: this.keyPem, cert: chain })),
    };
  }

  /** Writes a minted leaf to the disk store in the background; a failure there (disk full, permissions)
   * only costs a signing after the next restart, so it is counted, never allowed to fail the handshake. */
  private keep(host: string, certPem: string): void {
    this.opts.store?.write(host, certPem).catch(() => {
      this.storeFailures++;
    });
  }

  /** Settles when the leaves minted so far are on disk (or failed to be). */
  flushed(): Promise<void> {
    return this.opts.store?.idle() ?? Promise.resolve();
  }

  /** How long a leaf may be served from memory: until a day (or half its life) before it expires. */
  private ttlOf(leaf: Leaf): number {
    return Math.max(1_000, leaf.notAfter.getTime() - this.now().getTime() - this.resignBefore());
  }

  private resignBefore(): number {
    return Math.min(86_400_000, (this.opts.validityDays * 86_400_000) / 2);
  }

  /** A leaf minted before (this process or an earlier one), if it still fits: this CA, this key, this
   * host, and long enough before expiry. Anything else is ignored and signed again. */
  private fromStore(host: string): Leaf | null {
    const pem = this.opts.store?.read(host);
    if (!pem) return null;
    try {
      const x509 = new X509Certificate(pem);
      const now = this.now().getTime();
      const notAfter = new Date(x509.validTo);
      const named = net.isIP(host)
        ? x509.checkIP(host) !== undefined
        : x509.checkHost(host, { subject: 'never', wildcards: false }) !== undefined;
      const fits =
        x509.checkIssued(this.caX509) &&
        x509.verify(this.caX509.publicKey) &&
        x509.publicKey.export({ type: 'spki', format: 'der' }).equals(this.spki) &&
        named &&
        new Date(x509.validFrom).getTime() <= now &&
        notAfter.getTime() - now > this.resignBefore();
      return fits ? this.leafOf(host, pem, notAfter) : null;
    } catch {
      return null;
    }
  }
}

function isP256Key(pem: string): boolean {
  try {
    const key = createPrivateKey(pem);
    return key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1';
  } catch {
    return false;
  }
}
