/** What the Identifier (identify.ts) takes and answers: its inputs, results, options and counters. */
import type { DeviceEntry, NetworkEntry } from './address-map.js';
import type { DirectoryCounters } from './ldap/directory.js';
import type { ThrottleSettings } from './throttle.js';

export interface Identity {
  user: string | null;
  profile: string;
  device: string | null;
  via: 'basic' | 'device' | 'network' | 'guest';
  /** The school of a trust (site.ts): the user's, else the device's, else the network's; absent: none. */
  site?: string | null;
}

export interface IdentifyFailure {
  ok: false;
  /** 'directory-unavailable': the directory is down, the credential is not cached and onOutage is refuse. */
  reason: 'auth-required' | 'bad-credentials' | 'malformed-credentials' | 'directory-unavailable';
  /** Never set: a failed login identifies nobody. The name it claimed is `claimedUser`. */
  user: null;
  /** The user name the credentials claimed (control characters replaced, at most 128 characters). */
  claimedUser: string | null;
  /** Refused by the failed-login throttle (or the verification queue was full) without checking the
   * password: answer 429 with `Retry-After`, not 407. `reason` is then 'bad-credentials'. */
  throttle?: { scope: 'address' | 'user' | 'busy'; retryAfterMs: number };
}

export type IdentifyResult = { ok: true; identity: Identity } | IdentifyFailure;

export interface IdentifyInput {
  clientIp: string;
  proxyAuthorization: string | undefined;
  /** The client connection (socket or tunnel) the request came on: its next request with the same
   * header and address reuses what this one looked up (see ConnectionState). */
  connection?: object | undefined;
}

/** Networks and devices managed from the CLI (state database), in addition to the config's. */
export interface ExtraAddresses {
  devices: readonly DeviceEntry[];
  networks: readonly NetworkEntry[];
}

export interface IdentifierOptions {
  /** The clock of the throttle and the cache (tests inject one). */
  now?: () => number;
  /** The password check (tests count calls). */
  verify?: (password: string, hash: string) => Promise<boolean>;
  throttle?: Partial<ThrottleSettings>;
  /** scrypt runs at once; default 2 (libuv's pool has 4 threads, shared with DNS and file I/O). */
  maxConcurrentVerifications?: number;
  /** Verifications waiting for a slot; beyond that an attempt is refused as busy. */
  maxQueuedVerifications?: number;
  /** A client address or user name reached the failed-login threshold (for alerts and the log). */
  onThrottled?: (event: { scope: 'address' | 'user'; key: string; failures: number; until: number }) => void;
  /** The directory became unreachable (once per outage, not per request), for the log. */
  onDirectoryOutage?: (cause: string) => void;
  /** Directory sign-ins at once (each holds a connection); default 8. */
  maxConcurrentDirectoryBinds?: number;
}

/** Counters since start, for status and metrics. */
export interface AuthCounters {
  /** scrypt verifications run. */
  verifications: number;
  /** Credentials that failed verification (wrong password, unknown or disabled user). */
  failures: number;
  /** Attempts refused by the throttle without verification. */
  throttled: number;
  /** Attempts refused because too many verifications were queued. */
  busy: number;
  /** Client addresses and user names blocked right now. */
  blockedNow: number;
  /** With identity.ldap: user binds, outages, and whether sign-ins get onOutage right now. */
  directory: (DirectoryCounters & { down: boolean; cacheHits: number }) | null;
}

/** Why a user that was signed in lost access (for closing their tunnels and keep-alive connections). */
export type Revocation = { user: string; why: 'disabled' | 'removed' | 'password-changed' };
