/**
 * Reload: a running proxy picks up list, user and config changes without dropping a connection. The new
 * snapshot (config, lists, profiles, networks and devices) is loaded beside the old one and swapped in only
 * once all of it loaded; a broken file leaves the old snapshot serving and the error says what is wrong
 * (e2guardian's createLists, mitmproxy's optmanager rollback). Each request keeps the snapshot it started
 * with, because the proxy reads `policy()` once per decision. Users need no reload: the identity layer
 * re-reads them every few seconds.
 */
import type { ReadonlyConfig } from '../config/load.js';
import { SchoolgateError, isSchoolgateError } from '../errors.js';
import type { ExtraAddresses } from '../identity/identify.js';
import type { PolicySnapshot } from '../exchange/snapshot.js';
import { AddressStore } from '../state/addresses.js';
import { openStateDatabase } from '../state/database.js';

export interface LoadedPolicy extends PolicySnapshot {
  warnings: string[];
  entries: number;
}

export interface ReloadResult {
  ok: true;
  ms: number;
  categories: number;
  entries: number;
  profiles: number;
  warnings: string[];
  /** Top-level config settings that differ from the running ones (for the admin-changes record). */
  changed: string[];
  /** Of those, the ones that only take effect at the next start (listen address, limits, ...). */
  restartNeeded: string[];
}

export interface ReloaderDeps {
  /** Re-reads the config the proxy was started with (same file, same command-line overrides). */
  loadConfig: () => ReadonlyConfig;
  loadPolicy: (config: ReadonlyConfig) => Promise<LoadedPolicy>;
  /** Swaps the new state in; called only when everything loaded. */
  apply: (next: { config: ReadonlyConfig; policy: LoadedPolicy; addresses: ExtraAddresses }) => void;
  config: ReadonlyConfig;
}

/** Settings the running proxy took at start: a change to these is reported, not applied. */
const LIVE_KEYS = new Set(['profiles', 'identity', 'categoriesDir', 'timeZone', 'warn']);

export function readStateAddresses(dataDir: string): ExtraAddresses {
  const db = openStateDatabase(dataDir);
  try {
    const store = new AddressStore(db);
    return { devices: store.devices(), networks: store.networks() };
  } finally {
    db.close();
  }
}

export class Reloader {
  private config: ReadonlyConfig;
  private running: Promise<ReloadResult> | undefined;
  private queued: Promise<ReloadResult> | undefined;
  readonly history = { reloads: 0, failures: 0, lastAt: 0, lastError: null as string | null, lastMs: 0 };

  constructor(private readonly deps: ReloaderDeps) {
    this.config = deps.config;
  }

  /** Reloads; a reload asked for while one runs is coalesced into one more run after it. */
  reload(): Promise<ReloadResult> {
    if (!this.running) {
      this.running = this.run().finally(() => (this.running = undefined));
      return this.running;
    }
    this.queued ??= this.running
      .catch(() => undefined)
      .then(() => {
        this.queued = undefined;
        return this.reload();
      });
    return this.queued;
  }

  private async run(): Promise<ReloadResult> {
    const started = performance.now();
    try {
      const config = this.deps.loadConfig();
      const policy = await this.deps.loadPolicy(config);
      const addresses = readStateAddresses(config.dataDir);
      for (const n of addresses.networks)
        if (!policy.profiles.has(n.profile))
          throw new SchoolgateError(
            'SG_PROFILE_UNKNOWN',
            `network ${n.cidr} names no profile "${n.profile}"`,
            {
              suggestion: 'fix it with `schoolgate networks remove/add`',
            },
          );
      const changed = Object.keys(config).filter(
        (k) =>
          JSON.stringify((config as Record<string, unknown>)[k]) !==
          JSON.stringify((this.config as Record<string, unknown>)[k]),
      );
      const restartNeeded = changed.filter((k) => !LIVE_KEYS.has(k));
      this.deps.apply({ config, policy, addresses });
      this.config = config;
      const ms = performance.now() - started;
      Object.assign(this.history, {
        reloads: this.history.reloads + 1,
        lastAt: Date.now(),
        lastError: null,
        lastMs: ms,
      });
      return {
        ok: true,
        ms: Math.round(ms),
        categories: policy.lists.categories.size,
        entries: policy.entries,
        profiles: policy.profiles.size,
        warnings: policy.warnings.slice(0, 20),
        changed,
        restartNeeded,
      };
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      Object.assign(this.history, { failures: this.history.failures + 1, lastError: message });
      throw new SchoolgateError('SG_RELOAD_FAILED', `reload failed, the old lists keep serving: ${message}`, {
        context: isSchoolgateError(err) ? { cause: err.code, ...err.context } : {},
        suggestion:
          isSchoolgateError(err) && err.suggestion
            ? err.suggestion
            : 'fix the file named and run `schoolgate reload` again',
        cause: err,
      });
    }
  }
}
