/**
 * Who is asking: Basic proxy credentials (when on), else the client address mapped to a device or a
 * network profile, else the guest profile.
 *
 * Credentials: scrypt is deliberately slow (tens of ms) and a browser sends the header on every request,
 * so a verified credential is cached, keyed by the header and bound to the password hash it was verified
 * against. Every cached hit reads the state database's version (one `PRAGMA data_version`, ~5 µs); when it
 * moved, the user's row is read again, and a changed password hash, a disabled or removed user ends the
 * entry — so `users passwd`, `disable` and `remove` take effect on the next request.
 *
 * Failed logins are throttled per client address (IPv6: its /64) and per claimed user name (throttle.ts);
 * a throttled attempt is refused without running scrypt (`throttle` set on the result: answer 429).
 * Concurrent attempts with the same credential share one verification, and at most
 * `maxConcurrentVerifications` scrypt runs at once (they use libuv's thread pool, which DNS lookups and
 * file reads share).
 *
 * With `identity.ldap`, a name that is not in the local users table is checked against the directory
 * (ldap/directory.ts) instead — same throttle, same single-flight, same cache (for cacheTtlSeconds, and not
 * re-read from the directory: a directory change applies when the entry expires). When the directory is
 * down and the credential is not cached, the answer is onOutage (guest profile or 407), and for
 * OUTAGE_BACKOFF_MS further sign-ins get it at once instead of each waiting for the timeout.
 */
import { createHmac, randomBytes } from 'node:crypto';
import ipaddr from 'ipaddr.js';
import { LRUCache } from 'lru-cache';
import type { ReadonlyConfig } from '../config/load.js';
import { AddressMap, canonicalAddress, type DeviceEntry, type NetworkEntry } from './address-map.js';
import { parseBasicCredentials } from './basic-auth.js';
import { Directory } from './ldap/directory.js';
import { verifyPassword } from './password.js';
import { DEFAULT_THROTTLE, LoginThrottle, Semaphore, type BlockedEvent } from './throttle.js';
import type {
  AuthCounters,
  ExtraAddresses,
  IdentifierOptions,
  IdentifyFailure,
  IdentifyInput,
  IdentifyResult,
  Revocation,
} from './identify-types.js';
import { SignedInUsers } from './revocations.js';
import { resolveSite } from './site.js';
import { USER_NAME, type User, type UserStore } from './user-store.js';

/** Cached credentials re-read their user at least this often, even when the version did not move. */
const RECHECK_MS = 5_000;
/** After a directory outage, sign-ins not in the cache get onOutage at once for this long. */
export const OUTAGE_BACKOFF_MS = 15_000;
/** Verified with the same cost as a real hash when the user is unknown, disabled or has no password,
 * so the answer's timing does not tell which user names exist. Matches no password. */
const DUMMY_HASH = `scrypt$16384$8$1$${Buffer.alloc(16).toString('base64')}$${Buffer.alloc(32).toString('base64')}`;

/**
 * What a keep-alive connection's earlier request found: its device (for the address map in force then)
 * and the credential verified on it. A later request with the same header skips the parse, the HMAC and
 * the device lookup; the cached credential is still checked against the users table's version as on
 * every request, so a revocation takes effect on the next request all the same.
 */
interface ConnectionState {
  clientIp: string;
  addresses: AddressMap;
  device: DeviceEntry | undefined;
  header?: string;
  key?: string;
}

interface Verified {
  user: string;
  profile: string;
  /** The user's site (their local row's for a directory sign-in). */
  site: string | null;
  /** Local: the password hash the credential was verified against (the user, password version it is valid
   * for). Directory: null, valid until the entry's ttl. */
  passwordHash: string | null;
  /** A directory sign-in whose profile is its local row's (the row has no password), not its groups'. */
  localProfile?: boolean;
  version: number;
  checkedAt: number;
}

export class Identifier {
  private addresses: AddressMap;
  /** Verified credentials (sha256 of the header) → user, bound to the password hash verified. */
  private readonly verified = new LRUCache<string, Verified>({
    max: 10_000,
    ttl: 5 * 60_000,
    perf: { now: () => this.now() },
  });
  /** Verifications in flight, per credential: concurrent attempts with one credential share one scrypt. */
  private readonly inflight = new Map<string, Promise<Verified | IdentifyFailure | Outage>>();
  /** (user, address) pairs that signed in successfully lately: a user name under attack from elsewhere
   * still signs in from its own machines (the address throttle still applies there). */
  private readonly trusted: LRUCache<string, true>;
  /** Who signed in, to notice revocations (revocations.ts). */
  private readonly signedIn: SignedInUsers;
  private readonly throttle: LoginThrottle;
  private readonly scrypts: Semaphore;
  private readonly now: () => number;
  private readonly verify: (password: string, hash: string) => Promise<boolean>;
  private readonly counts = { verifications: 0, failures: 0, throttled: 0, busy: 0, directoryHits: 0 };
  private directory: Directory | null;
  private readonly binds: Semaphore;
  /** Until when sign-ins skip the directory (an outage was seen); 0 when it answered last. */
  private directoryDownUntil = 0;
  /** Keys the credential cache: an HMAC with a per-process key, so the memory holds nothing to brute-force
   * offline. */
  private readonly cacheKey = randomBytes(32);
  private readonly onDirectoryOutage: (cause: string) => void;
  private readonly connections = new WeakMap<object, ConnectionState>();

  constructor(
    private config: ReadonlyConfig,
    private readonly users: UserStore,
    extra: ExtraAddresses = { devices: [], networks: [] },
    opts: IdentifierOptions = {},
  ) {
    this.addresses = addressMap(config, extra);
    this.now = opts.now ?? Date.now;
    this.verify = opts.verify ?? verifyPassword;
    const onThrottled = opts.onThrottled;
    this.throttle = new LoginThrottle(
      { ...DEFAULT_THROTTLE, ...opts.throttle },
      this.now,
      onThrottled &&
        ((e: BlockedEvent) =>
          onThrottled({
            scope: e.key.startsWith('ip:') ? 'address' : 'user',
            key: e.key.slice(e.key.indexOf(':') + 1),
            failures: e.failures,
            until: e.until,
          })),
    );
    this.scrypts = new Semaphore(opts.maxConcurrentVerifications ?? 2, opts.maxQueuedVerifications ?? 256);
    this.trusted = new LRUCache<string, true>({
      max: 50_000,
      ttl: 30 * 24 * 3_600_000,
      perf: { now: () => this.now() },
    });
    this.signedIn = new SignedInUsers(users);
    this.directory = makeDirectory(config, null, this.now);
    this.binds = new Semaphore(opts.maxConcurrentDirectoryBinds ?? 8, 256);
    this.onDirectoryOutage = opts.onDirectoryOutage ?? (() => {});
  }

  /** A reload: new identity settings and address map, swapped in whole (requests in flight keep theirs). */
  reconfigure(config: ReadonlyConfig, extra: ExtraAddresses): void {
    const addresses = addressMap(config, extra);
    // Built first: an unreadable bind password file fails the reload before anything is swapped.
    const directory = makeDirectory(config, this.directory, this.now);
    const keepDirectoryEntries =
      directory !== null &&
      directory === this.directory &&
      config.identity.guestProfile === this.config.identity.guestProfile;
    this.config = config;
    this.addresses = addresses;
    this.directory = directory;
    if (!keepDirectoryEntries) this.directoryDownUntil = 0;
    // Directory sign-ins survive a reload that leaves identity.ldap alone: a reload during an outage
    // must not send everyone to the fallback.
    for (const [key, entry] of [...this.verified.entries()])
      if (!(keepDirectoryEntries && entry.passwordHash === null)) this.verified.delete(key);
  }

  /** Counters for status and /metrics. */
  authCounters(): AuthCounters {
    const { directoryHits, ...counts } = this.counts;
    const directory = this.directory
      ? {
          ...this.directory.counters,
          lastOutage: this.directory.counters.lastOutage && { ...this.directory.counters.lastOutage },
          down: this.now() < this.directoryDownUntil,
          cacheHits: directoryHits,
        }
      : null;
    return { ...counts, blockedNow: this.throttle.blockedKeys(), directory };
  }

  /**
   * Calls `listener` when a user who signed in with Basic credentials is disabled, removed or gets a new
   * password (noticed on the next identify() or pollUsers() after the change). Returns the unsubscribe.
   */
  onRevoked(listener: (r: Revocation) => void): () => void {
    return this.signedIn.onRevoked(listener);
  }

  /** Looks for revocations now: for a proxy timer and the control socket (SignedInUsers.poll). */
  pollUsers(): Revocation[] {
    return this.signedIn.poll();
  }

  /** Whether `user` signed in and has not been revoked since (SignedInUsers.has). */
  isSignedIn(user: string): boolean {
    return this.signedIn.has(user);
  }

  async identify(input: IdentifyInput): Promise<IdentifyResult> {
    const { identity: idConfig } = this.config;
    const state = this.connectionState(input);
    const device = state.device;
    if (idConfig.basicAuth) {
      const header = input.proxyAuthorization;
      if (header !== undefined && header === state.header) {
        const cached = this.verified.get(state.key!);
        const still = cached && this.stillValid(state.key!, cached);
        if (still) return this.withSite(basicIdentity(still, device), still, device, input.clientIp);
      }
      const creds = parseBasicCredentials(header);
      if (creds === 'malformed')
        return { ok: false, reason: 'malformed-credentials', user: null, claimedUser: null };
      if (creds) {
        const key = this.credentialKey(header!);
        const checked = await this.checkCredentials(key, creds.user, creds.password, input.clientIp);
        if ('outage' in checked) {
          if (this.directory?.config.onOutage === 'refuse')
            return {
              ok: false,
              reason: 'directory-unavailable',
              user: null,
              claimedUser: claimed(creds.user),
            };
          return this.withSite(
            {
              ok: true,
              identity: {
                user: null,
                profile: idConfig.guestProfile,
                device: device?.name ?? null,
                via: 'guest',
              },
            },
            null,
            device,
            input.clientIp,
          );
        }
        if ('ok' in checked) return checked;
        state.header = header!;
        state.key = key;
        return this.withSite(basicIdentity(checked, device), checked, device, input.clientIp);
      }
      if (idConfig.requireAuth) return { ok: false, reason: 'auth-required', user: null, claimedUser: null };
    }
    if (device) {
      const user = device.user ? this.users.get(device.user) : undefined;
      const profile = device.profile ?? user?.profile ?? this.networkProfile(input.clientIp);
      return this.withSite(
        { ok: true, identity: { user: device.user ?? null, profile, device: device.name, via: 'device' } },
        user ?? null,
        device,
        input.clientIp,
      );
    }
    const network = this.addresses.network(input.clientIp);
    if (network)
      return this.withSite(
        { ok: true, identity: { user: null, profile: network.profile, device: null, via: 'network' } },
        null,
        undefined,
        input.clientIp,
        network,
      );
    return { ok: true, identity: { user: null, profile: idConfig.guestProfile, device: null, via: 'guest' } };
  }

  /**
   * The identity with its site (resolveSite: user over device over network). The network is looked up only
   * when neither the user nor the device carries one; no site anywhere leaves the identity as it was.
   */
  private withSite(
    result: IdentifyResult & { ok: true },
    user: { site: string | null } | null,
    device: DeviceEntry | undefined,
    clientIp: string,
    network?: NetworkEntry,
  ): IdentifyResult {
    const site = resolveSite({ user, device }) ?? this.networkSite(clientIp, network);
    return site ? { ok: true, identity: { ...result.identity, site } } : result;
  }

  /** The matched network's site; no lookup when no network has one (a single school). */
  private networkSite(clientIp: string, matched: NetworkEntry | undefined): string | null {
    if (matched) return matched.site ?? null;
    return this.addresses.networkSites ? (this.addresses.network(clientIp)?.site ?? null) : null;
  }

  private networkProfile(clientIp: string): string {
    return this.addresses.network(clientIp)?.profile ?? this.config.identity.guestProfile;
  }

  /** The connection's state when it is unchanged (same address, same address map), else a fresh one. */
  private connectionState(input: IdentifyInput): ConnectionState {
    const known = input.connection && this.connections.get(input.connection);
    if (known && known.clientIp === input.clientIp && known.addresses === this.addresses) return known;
    const state = {
      clientIp: input.clientIp,
      addresses: this.addresses,
      device: this.addresses.device(input.clientIp),
    };
    if (input.connection) this.connections.set(input.connection, state);
    return state;
  }

  private credentialKey(header: string): string {
    return createHmac('sha256', this.cacheKey).update(header).digest('base64');
  }

  private async checkCredentials(
    key: string,
    name: string,
    password: string,
    clientIp: string,
  ): Promise<Verified | IdentifyFailure | Outage> {
    const cached = this.verified.get(key);
    if (cached) {
      const still = this.stillValid(key, cached);
      if (still) return still;
    }
    const running = this.inflight.get(key);
    if (running) return running;
    const attempt = this.verifyOnce(name, password, clientIp, key).finally(() => this.inflight.delete(key));
    this.inflight.set(key, attempt);
    return attempt;
  }

  /** A cached credential, if its user is unchanged since it was verified (re-read when the database moved). */
  private stillValid(key: string, cached: Verified): Verified | null {
    const version = this.users.version();
    const now = this.now();
    if (cached.passwordHash === null) {
      // A directory sign-in: valid for its ttl while its local row (if any) says the same.
      if (version !== cached.version) {
        this.signedIn.pollIfMoved(version);
        const profile = directoryProfileNow(this.users.get(cached.user), cached);
        if (profile === null) {
          this.verified.delete(key);
          return null;
        }
        cached = { ...cached, profile, site: this.users.get(cached.user)?.site ?? null, version };
        this.verified.set(key, cached, { noUpdateTTL: true });
      }
      this.counts.directoryHits++;
      return cached;
    }
    if (version === cached.version && now - cached.checkedAt < RECHECK_MS) return cached;
    this.signedIn.pollIfMoved(version);
    const current = this.users.get(cached.user);
    if (current && !current.disabled && current.passwordHash === cached.passwordHash) {
      const fresh = { ...cached, profile: current.profile, site: current.site, version, checkedAt: now };
      this.verified.set(key, fresh, { noUpdateTTL: true });
      return fresh;
    }
    // Disabled, removed, or a new password: the credential must be verified again (and will fail unless
    // it carries the new password of a user still enabled).
    this.verified.delete(key);
    return null;
  }

  private async verifyOnce(
    name: string,
    password: string,
    clientIp: string,
    key: string,
  ): Promise<Verified | IdentifyFailure | Outage> {
    const claimedUser = claimed(name);
    const validName = USER_NAME.test(name);
    const addressKey = `ip:${throttleAddress(clientIp)}`;
    const userKey = `user:${name}`;
    // A user name that cannot exist is tracked per address only (the user map stays bounded by real names).
    const keys = [addressKey];
    if (validName && !this.trusted.has(`${name}\n${throttleAddress(clientIp)}`)) keys.push(userKey);
    const failure = (throttle?: IdentifyFailure['throttle']): IdentifyFailure => ({
      ok: false,
      reason: 'bad-credentials',
      user: null,
      claimedUser,
      ...(throttle ? { throttle } : {}),
    });

    const admitted = await this.throttle.admit(keys);
    if ('blocked' in admitted) {
      this.counts.throttled++;
      const scope = admitted.blocked.key === addressKey ? 'address' : 'user';
      return failure({ scope, retryAfterMs: admitted.blocked.retryAfterMs });
    }
    try {
      if (!validName) {
        this.counts.failures++;
        this.throttle.fail(keys);
        return failure();
      }
      const local = this.users.get(name);
      // A local row without a password (imported, or made for a device) signs in through the directory.
      if (this.directory && (!local || (!local.passwordHash && !local.disabled))) {
        const result = await this.checkDirectory(this.directory, local, name, password, key);
        if (result === 'busy') {
          this.counts.busy++;
          return failure({ scope: 'busy', retryAfterMs: 1_000 });
        }
        if (result === 'rejected') {
          this.counts.failures++;
          this.throttle.fail(keys);
          return failure();
        }
        if ('outage' in result) return result;
        this.throttle.succeed(userKey);
        this.trusted.set(`${name}\n${throttleAddress(clientIp)}`, true);
        return result;
      }
      const slot = await this.scrypts.acquire();
      if (!slot) {
        this.counts.busy++;
        return failure({ scope: 'busy', retryAfterMs: 1_000 });
      }
      let user: User | undefined;
      let ok: boolean;
      try {
        // Read after waiting for the slot: the row as it is when the password is checked.
        user = this.users.get(name);
        const usable = user && !user.disabled && user.passwordHash ? user.passwordHash : null;
        this.counts.verifications++;
        ok = (await this.verify(password, usable ?? DUMMY_HASH)) && usable !== null;
      } finally {
        slot();
      }
      if (!ok || !user) {
        this.counts.failures++;
        this.throttle.fail(keys);
        return failure();
      }
      this.throttle.succeed(userKey);
      this.trusted.set(`${name}\n${throttleAddress(clientIp)}`, true);
      this.signedIn.local(user.name, user.passwordHash!);
      const verified: Verified = {
        user: user.name,
        profile: user.profile,
        site: user.site,
        passwordHash: user.passwordHash!,
        version: this.users.version(),
        checkedAt: this.now(),
      };
      this.verified.set(key, verified);
      return verified;
    } finally {
      admitted.release();
    }
  }

  /** A directory sign-in (the name is not a local user); cached on success for cacheTtlSeconds. */
  private async checkDirectory(
    directory: Directory,
    local: User | undefined,
    name: string,
    password: string,
    key: string,
  ): Promise<Verified | Outage | 'rejected' | 'busy'> {
    if (this.now() < this.directoryDownUntil) return { outage: 'the directory was down moments ago' };
    const slot = await this.binds.acquire();
    if (!slot) return 'busy';
    let result;
    try {
      result = await directory.authenticate(name, password);
    } finally {
      slot();
    }
    if (result.kind === 'outage') {
      if (this.now() >= this.directoryDownUntil) this.onDirectoryOutage(result.cause);
      this.directoryDownUntil = this.now() + OUTAGE_BACKOFF_MS;
      return { outage: result.cause };
    }
    this.directoryDownUntil = 0;
    if (result.kind === 'rejected') return 'rejected';
    this.signedIn.directory(name);
    const verified: Verified = {
      user: name,
      profile: local?.profile ?? result.profile,
      site: local?.site ?? null,
      passwordHash: null,
      localProfile: local !== undefined,
      version: this.users.version(),
      checkedAt: this.now(),
    };
    const ttl = directory.config.cacheTtlSeconds * 1000;
    if (ttl > 0 && this.directory === directory) this.verified.set(key, verified, { ttl });
    return verified;
  }
}

/**
 * The profile a cached directory sign-in has now that the users table moved, or null when it must sign in
 * again: its local row was disabled or given a password (local sign-in from now on), or removed while it
 * supplied the profile (the groups decide again).
 */
function directoryProfileNow(local: User | undefined, cached: Verified): string | null {
  if (local) return local.disabled || local.passwordHash ? null : local.profile;
  return cached.localProfile ? null : cached.profile;
}

/** The directory was unreachable for this sign-in: identify() answers with onOutage. */
interface Outage {
  outage: string;
}

/** The directory client for `config`, reusing `current` when identity.ldap and the fallback are unchanged. */
function makeDirectory(
  config: ReadonlyConfig,
  current: Directory | null,
  now: () => number,
): Directory | null {
  const ldap = config.identity.ldap;
  if (!ldap) return null;
  const fallback = config.identity.guestProfile;
  if (
    current &&
    JSON.stringify(current.config) === JSON.stringify(ldap) &&
    current.fallbackProfile === fallback
  )
    return current;
  return new Directory(ldap, fallback, now);
}

/** The claimed user name as an audit row may hold it. */
function basicIdentity(verified: Verified, device: DeviceEntry | undefined): IdentifyResult & { ok: true } {
  return {
    ok: true,
    identity: { user: verified.user, profile: verified.profile, device: device?.name ?? null, via: 'basic' },
  };
}

function claimed(name: string): string {
  // eslint-disable-next-line no-control-regex
  return name.replace(/[\u0000-\u001f\u007f-\u009f]/g, '?').slice(0, 128);
}

/** The unit a client address is throttled by: the address, or for IPv6 its /64 (one host's share). */
function throttleAddress(clientIp: string): string {
  const canonical = canonicalAddress(clientIp);
  try {
    const ip = ipaddr.parse(canonical);
    if (ip.kind() === 'ipv6') {
      const parts = (ip as ipaddr.IPv6).parts.slice(0, 4);
      return `${parts.map((p) => p.toString(16)).join(':')}::/64`;
    }
  } catch {
    // Not an address (a test's name): as given.
  }
  return canonical;
}

/** Config entries first: for the same address or CIDR, the config file wins over the CLI-managed table. */
export function addressMap(config: ReadonlyConfig, extra: ExtraAddresses): AddressMap {
  const devices = [...config.identity.devices];
  const seen = new Set(devices.map((d) => d.address));
  for (const d of extra.devices) if (!seen.has(d.address)) devices.push(d);
  const networks = [...config.identity.networks];
  const cidrs = new Set(networks.map((n) => n.cidr));
  for (const n of extra.networks) if (!cidrs.has(n.cidr)) networks.push(n);
  return new AddressMap(devices, networks);
}
