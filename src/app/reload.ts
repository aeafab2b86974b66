/**
 * Reload: a running proxy picks up list, user and config changes without dropping a connection. The new
 * snapshot (config, lists, profiles, networks and devices) is loaded beside the old one and swapped in only
 * once all of it loaded; a broken file leaves the old snapshot serving and the error says what is wrong
 * (e2guardian's createLists, mitmproxy's optmanager rollback). Each request keeps the snapshot it started
 * with, because the proxy reads `policy()` once per decision. Users need no reload: the identity layer
 * re-reads them every few seconds.
 *
 * A reload that would shrink a category's shipped list by more than `lists.maxShrinkShare` compared with
 * the running snapshot is refused too (SG_CATEGORY_SHRANK) unless forced (`schoolgate reload --force`):
 * a truncated file parses cleanly and would open the filter for everything cut off. Every outcome is kept
 * for `status` (`history.last`) and logged.
 */
import type { KeywordIndex } from '../alerts/keywords/index.js';
import type { Logger } from 'pino';
import type { ReadonlyConfig } from '../config/load.js';
import { SchoolgateError, isSchoolgateError } from '../errors.js';
import type { IllegalTier } from '../policy/illegal-tier.js';
import type { ExtraAddresses } from '../identity/identify-types.js';
import type { PolicySnapshot } from '../exchange/snapshot.js';
import { AddressStore } from '../state/addresses.js';
import { openStateDatabase } from '../state/database.js';

export interface LoadedPolicy extends PolicySnapshot {
  warnings: string[];
  entries: number;
  /** Valid entries in each category's shipped files (local-layer edits excluded): the shrink guard's measure. */
  shippedSizes: ReadonlyMap<string, number>;
  /** The safeguarding keyword lists (shipped + local), compiled; read by the alerts engine. */
  keywords: KeywordIndex;
}

export interface ReloadOptions {
  /** Apply even though a category shrinks by more than lists.maxShrinkShare (never past a broken file). */
  force?: boolean;
}

/** A category that shrank by more than lists.maxShrinkShare. */
export interface Shrinkage {
  category: string;
  before: number;
  after: number;
}

/** The last reload's result, as `status` shows it. */
export interface ReloadOutcome {
  ok: boolean;
  at: string;
  ms: number;
  forced: boolean;
  /** The SG code of what refused it (null when it was applied). */
  code: string | null;
  message: string;
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
  /** Categories that shrank past lists.maxShrinkShare and were applied because the reload was forced. */
  forcedShrink: Shrinkage[];
  /** What the reload did with the school CA files (switched to an activated renewal, ...), when anything. */
  ca?: string;
}

export interface ReloaderDeps {
  /** Re-reads the config the proxy was started with (same file, same command-line overrides). */
  loadConfig: () => ReadonlyConfig;
  loadPolicy: (config: ReadonlyConfig) => Promise<LoadedPolicy>;
  /** Swaps the new state in; called only when everything loaded. */
  apply: (next: { config: ReadonlyConfig; policy: LoadedPolicy; addresses: ExtraAddresses }) => void;
  config: ReadonlyConfig;
  /**
   * Reads the school CA files again once the rest is applied (`ca renew --activate` takes effect here,
   * without a restart); never throws: unreadable files leave the running CA signing.
   */
  reloadCa?: () => string | null;
  /**
   * Runs first on every reload (store: { postgres }: publishes this node's edit or applies a newer shared
   * version, src/app/policy-sync/); a throw refuses the reload with its code.
   */
  beforeLoad?: () => Promise<void>;
}

/** Settings the running proxy took at start: a change to these is reported, not applied. */
const LIVE_KEYS = new Set([
  'profiles',
  'identity',
  'categoriesDir',
  'timeZone',
  'warn',
  'lists',
  'mode',
  'illegalContent',
]);

/**
 * A reload never weakens the illegal-content tier by accident: a tier that failed to load, or that lost a
 * file the running one had (a failed sync, a changed folder), is refused and the running tier stays (never
 * `--force`d). A file is retired only by a restart, which the log and `status` show.
 */
export function checkIllegalTier(running: IllegalTier | undefined, next: IllegalTier | undefined): void {
  if (next?.state === 'unusable')
    throw new SchoolgateError('SG_ILLEGAL_TIER_UNUSABLE', next.message, {
      suggestion: 'put back a good copy of the file named, then run `schoolgate reload` again',
    });
  const have = new Set(next?.sources.map((s) => s.name) ?? []);
  const lost = (running?.sources ?? []).filter((s) => !have.has(s.name)).map((s) => s.name);
  if (lost.length > 0)
    throw new SchoolgateError(
      'SG_ILLEGAL_TIER_UNUSABLE',
      `the illegal-content tier would lose ${lost.join(', ')}: the files in force keep serving`,
      {
        context: { lost },
        suggestion:
          'put the file back; to retire a provider file on purpose, remove it and restart the proxy',
      },
    );
}

export function readStateAddresses(dataDir: string): ExtraAddresses {
  const db = openStateDatabase(dataDir);
  try {
    const store = new AddressStore(db);
    return { devices: store.devices(), networks: store.networks() };
  } finally {
    db.close();
  }
}

/** Categories of `before` that `after` leaves with more than `maxShare` fewer shipped entries. */
export function shrinkages(
  before: ReadonlyMap<string, number>,
  after: ReadonlyMap<string, number>,
  maxShare: number,
): Shrinkage[] {
  const out: Shrinkage[] = [];
  for (const [category, was] of before) {
    const now = after.get(category);
    // A category that is gone was removed from categories.yaml on purpose (profiles naming it fail to load).
    if (now === undefined || was === 0) continue;
    if ((was - now) / was > maxShare) out.push({ category, before: was, after: now });
  }
  return out;
}

export class Reloader {
  private config: ReadonlyConfig;
  private running: Promise<ReloadResult> | undefined;
  private queued: Promise<ReloadResult> | undefined;
  private queuedForce = false;
  private watched: { current: () => LoadedPolicy; logger: Logger } | undefined;
  readonly history = {
    reloads: 0,
    failures: 0,
    lastAt: 0,
    lastError: null as string | null,
    lastMs: 0,
    last: null as ReloadOutcome | null,
  };

  constructor(private readonly deps: ReloaderDeps) {
    this.config = deps.config;
  }

  /**
   * The running snapshot (what a reload is compared with) and the log. start.ts calls this as soon as the
   * proxy is live; until then a reload is refused, because there is nothing to compare it with.
   */
  watch(running: { current: () => LoadedPolicy; logger: Logger }): void {
    this.watched = running;
  }

  /**
   * Reloads; a reload asked for while one runs is coalesced into one more run after it (forced if any of
   * the requests it stands for was).
   */
  reload(opts: ReloadOptions = {}): Promise<ReloadResult> {
    const force = opts.force === true;
    if (!this.running) {
      this.running = this.run(force).finally(() => (this.running = undefined));
      return this.running;
    }
    this.queuedForce ||= force;
    this.queued ??= this.running
      .catch(() => undefined)
      .then(() => {
        const queuedForce = this.queuedForce;
        this.queued = undefined;
        this.queuedForce = false;
        return this.reload({ force: queuedForce });
      });
    return this.queued;
  }

  private async run(force: boolean): Promise<ReloadResult> {
    const started = performance.now();
    try {
      await this.deps.beforeLoad?.();
      const config = this.deps.loadConfig();
      const policy = await this.deps.loadPolicy(config);
      checkIllegalTier(this.watched?.current().lists.illegal, policy.lists.illegal);
      const shrunk = this.checkShrink(policy, config, force);
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
      const ca = this.rereadCa();
      const ms = performance.now() - started;
      if (shrunk.length > 0)
        this.watched?.logger.warn(
          { categories: shrunk },
          `reload forced past the shrink check: ${describeShrink(shrunk, config)}`,
        );
      Object.assign(this.history, {
        reloads: this.history.reloads + 1,
        lastAt: Date.now(),
        lastError: null,
        lastMs: ms,
        last: {
          ok: true,
          at: new Date().toISOString(),
          ms: Math.round(ms),
          forced: force,
          code: null,
          message: `reloaded: ${policy.lists.categories.size} categories, ${policy.entries} entries`,
        },
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
        forcedShrink: shrunk,
        ...(ca ? { ca } : {}),
      };
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      const code = isSchoolgateError(err) ? err.code : null;
      const ms = performance.now() - started;
      Object.assign(this.history, {
        failures: this.history.failures + 1,
        lastError: message,
        last: { ok: false, at: new Date().toISOString(), ms: Math.round(ms), forced: force, code, message },
      });
      this.watched?.logger.error(
        { code, context: isSchoolgateError(err) ? err.context : undefined, forced: force },
        `reload refused, the old lists keep serving: ${message}`,
      );
      // Its own code and advice: the edit was lost to another node's, and the command is to be run again.
      if (code === 'SG_POLICY_CONFLICT') throw err;
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

  /** The CA step: after the policy was applied, so a CA fault can never undo or refuse the lists. */
  private rereadCa(): string | null {
    try {
      return this.deps.reloadCa?.() ?? null;
    } catch (err) {
      this.watched?.logger.error({ err }, 'reload: the school CA files could not be checked');
      return `school CA not checked (${err instanceof Error ? err.message : String(err)}): the running CA keeps signing`;
    }
  }

  /** SG_CATEGORY_SHRANK unless forced; the categories that shrank past the limit otherwise. */
  private checkShrink(policy: LoadedPolicy, config: ReadonlyConfig, force: boolean): Shrinkage[] {
    if (!this.watched) {
      if (force) return [];
      throw new SchoolgateError(
        'SG_RELOAD_FAILED',
        'the proxy is still starting: there are no running lists to compare the new ones with',
        { suggestion: 'run `schoolgate reload` again once `schoolgate status` answers' },
      );
    }
    const shrunk = shrinkages(
      this.watched.current().shippedSizes,
      policy.shippedSizes,
      config.lists.maxShrinkShare,
    );
    if (shrunk.length === 0 || force) return shrunk;
    throw new SchoolgateError('SG_CATEGORY_SHRANK', describeShrink(shrunk, config), {
      context: { categories: shrunk, maxShrinkShare: config.lists.maxShrinkShare },
      suggestion:
        "Check those categories' list files (a truncated copy, a failed sync, a wrong --categories); " +
        'if the change is intended, run `schoolgate reload --force`.',
    });
  }
}

function describeShrink(shrunk: readonly Shrinkage[], config: ReadonlyConfig): string {
  const pct = (x: number) => `${Math.round(x * 100)}%`;
  const each = shrunk.map(
    (s) =>
      `category ${s.category} would shrink from ${s.before} to ${s.after} shipped entries (-${pct((s.before - s.after) / s.before)})`,
  );
  return `${each.join('; ')}: more than lists.maxShrinkShare ${pct(config.lists.maxShrinkShare)}`;
}
