/**
 * Exceptions before they moved to the state database: per-profile allow and deny files in the local layer,
 *
 *   <dataDir>/categories.local/profiles/<profile>/allow
 *   <dataDir>/categories.local/profiles/<profile>/deny
 *
 * one entry a line. They are migrated, once, into the `exceptions` table (src/state/exceptions.ts) as
 * exceptions for that profile with no end date, each with an admin-changes row (`exceptions.migrate`), and
 * the file is renamed `<kind>.migrated` so a person can still read what it held. The proxy's load and every
 * `exceptions` command migrate first, so no file is ever left unapplied. An invalid line refuses the
 * migration (and so the start or reload), naming file and line, exactly as the file did when it was read.
 */
import { existsSync } from 'node:fs';
import { readdir, rename } from 'node:fs/promises';
import path from 'node:path';
import { SchoolgateError } from '../errors.js';
import { parseEntry } from '../policy/entries.js';
import { compileExceptions, type ExceptionSet } from '../policy/exceptions.js';
import { addException, policyExceptions } from '../state/exceptions.js';
import { withState, type StateStore } from '../state/store.js';
import { entryOf } from './entry.js';
import { localLayerDir, readLines, withLocalLock } from './local-layer.js';

type LegacyKind = 'allow' | 'deny';
const LEGACY_KINDS: readonly LegacyKind[] = ['allow', 'deny'];

export function legacyExceptionsFile(dataDir: string, profile: string, kind: LegacyKind): string {
  return path.join(localLayerDir(dataDir), 'profiles', profile, kind);
}

interface LegacyFile {
  file: string;
  profile: string;
  kind: LegacyKind;
  entries: string[];
}

/** Every legacy file that still exists, its entries validated and normalised. */
async function readLegacyFiles(dataDir: string): Promise<LegacyFile[]> {
  const root = path.join(localLayerDir(dataDir), 'profiles');
  const dirs = await readdir(root, { withFileTypes: true }).catch(() => []);
  const out: LegacyFile[] = [];
  for (const d of dirs) {
    if (!d.isDirectory()) continue;
    for (const kind of LEGACY_KINDS) {
      const file = legacyExceptionsFile(dataDir, d.name, kind);
      if (!existsSync(file)) continue;
      const entries: string[] = [];
      (await readLines(file)).forEach((line, i) => {
        const parsed = parseEntry(line);
        if (parsed.kind === 'skip') return;
        const entry = entryOf(parsed);
        if (parsed.kind === 'invalid' || entry === undefined)
          throw new SchoolgateError(
            'SG_CATEGORY_INVALID',
            `${file}:${i + 1}: invalid entry (${parsed.kind === 'invalid' ? parsed.reason : 'not an entry'}): ${JSON.stringify(line)}`,
            {
              context: { file, line: i + 1 },
              suggestion: 'fix or remove the line, then run the command again',
            },
          );
        entries.push(entry.text);
      });
      out.push({ file, profile: d.name, kind, entries });
    }
  }
  return out;
}

/**
 * Moves legacy per-profile files into the exceptions table; returns how many exceptions it added. An entry
 * already present as the same live exception is not added twice (a migration cut short after its commit
 * but before the rename runs again harmlessly).
 */
export async function migrateLegacyExceptions(dataDir: string, state: StateStore): Promise<number> {
  // Most loads find nothing to move: only take the local layer's lock when a file is there.
  const root = path.join(localLayerDir(dataDir), 'profiles');
  const dirs = await readdir(root).catch((): string[] => []);
  if (!dirs.some((d) => LEGACY_KINDS.some((k) => existsSync(legacyExceptionsFile(dataDir, d, k))))) return 0;
  return withLocalLock(dataDir, async () => {
    const files = await readLegacyFiles(dataDir);
    let added = 0;
    const now = new Date();
    for (const f of files) {
      state.transaction(() => {
        for (const site of f.entries) {
          const e = {
            site,
            action: f.kind === 'allow' ? ('allow' as const) : ('block' as const),
            scope: { kind: 'profile' as const, name: f.profile },
          };
          if (state.exceptions.findSame(e, now)) continue;
          addException(
            state,
            {
              ...e,
              reason: `migrated from ${path.relative(dataDir, f.file)}`,
              by: 'schoolgate (migration)',
              expiresAt: null,
              origin: 'migrated',
            },
            now.getTime(),
            'exceptions.migrate',
          );
          added++;
        }
      });
      await rename(f.file, `${f.file}.migrated`);
    }
    return added;
  });
}

/**
 * The exceptions a snapshot decides with: legacy files migrated first, then every exception not removed
 * (decide() drops one at its end). A profile exception for a profile
 * that does not exist is kept (the profile may come back) and named in the warnings.
 */
export async function loadExceptionSet(
  dataDir: string,
  profiles: ReadonlySet<string>,
  warnings: string[],
): Promise<ExceptionSet> {
  return withState(dataDir, async (state) => {
    await migrateLegacyExceptions(dataDir, state);
    // Every exception not removed, expired ones too: the proxy's clock (a test clock) decides, not ours.
    const list = policyExceptions(state.exceptions);
    for (const e of list)
      if (e.scope.kind === 'profile' && !profiles.has(e.scope.name))
        warnings.push(
          `exception ${e.id} is for profile ${e.scope.name}, which does not exist: it applies to nobody`,
        );
    return compileExceptions(list);
  });
}
