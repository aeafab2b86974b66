/**
 * Per-profile exceptions managed from the CLI: explicit allow and deny entries that come before every
 * category (the same meaning as a profile's `allow`/`deny` in the config file, added to them). They live in
 * the local layer, one entry a line, in the syntax of profile entries (a domain, or host/path):
 *
 *   <dataDir>/categories.local/profiles/<profile>/allow
 *   <dataDir>/categories.local/profiles/<profile>/deny
 *
 * An invalid line is an error at load (naming file and line), so a reload with one keeps the old policy.
 */
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { SchoolgateError } from '../errors.js';
import { parseEntry } from '../policy/entries.js';
import type { Profile } from '../policy/types.js';
import { anyLineKey, type ListEntry } from './entry.js';
import { localLayerDir, readLines, withLocalLock, writeLines } from './local-layer.js';

export type ExceptionKind = 'allow' | 'deny';
export const EXCEPTION_KINDS: readonly ExceptionKind[] = ['allow', 'deny'];

export function exceptionsFile(dataDir: string, profile: string, kind: ExceptionKind): string {
  return path.join(localLayerDir(dataDir), 'profiles', profile, kind);
}

export type ProfileExceptions = Map<string, Record<ExceptionKind, string[]>>;

/** Every profile's exceptions (entries only: comments and blanks dropped), validated. */
export async function readExceptions(dataDir: string): Promise<ProfileExceptions> {
  const out: ProfileExceptions = new Map();
  const root = path.join(localLayerDir(dataDir), 'profiles');
  const names = await readdir(root, { withFileTypes: true }).catch(() => []);
  for (const d of names) {
    if (!d.isDirectory()) continue;
    const lists: Record<ExceptionKind, string[]> = { allow: [], deny: [] };
    for (const kind of EXCEPTION_KINDS) {
      const file = exceptionsFile(dataDir, d.name, kind);
      (await readLines(file)).forEach((line, i) => {
        const parsed = parseEntry(line);
        if (parsed.kind === 'skip') return;
        if (parsed.kind === 'invalid')
          throw new SchoolgateError(
            'SG_CATEGORY_INVALID',
            `${file}:${i + 1}: invalid entry (${parsed.reason}): ${JSON.stringify(line)}`,
            {
              context: { file, line: i + 1 },
              suggestion: `fix or remove the line, e.g. with \`schoolgate exceptions remove ${d.name} ${kind} ...\``,
            },
          );
        lists[kind].push(line.trim());
      });
    }
    if (lists.allow.length + lists.deny.length > 0) out.set(d.name, lists);
  }
  return out;
}

/** Profiles with their exceptions added (new objects, so compiled entry lists are rebuilt). */
export function withExceptions(
  profiles: Map<string, Profile>,
  exceptions: ProfileExceptions,
  warnings: string[],
): Map<string, Profile> {
  for (const [name, ex] of exceptions) {
    const p = profiles.get(name);
    if (!p) {
      warnings.push(`exceptions for profile ${name}, which does not exist: ignored`);
      continue;
    }
    profiles.set(name, { ...p, allow: [...p.allow, ...ex.allow], deny: [...p.deny, ...ex.deny] });
  }
  return profiles;
}

export type ExceptionOutcome = 'added' | 'duplicate' | 'removed' | 'not-listed';

/** Adds or removes entries in one profile's exception file; comments are kept, nothing is written twice. */
export function editExceptions(
  dataDir: string,
  profile: string,
  kind: ExceptionKind,
  op: 'add' | 'remove',
  entries: readonly ListEntry[],
): Promise<{ entry: string; outcome: ExceptionOutcome }[]> {
  return withLocalLock(dataDir, async () => {
    const file = exceptionsFile(dataDir, profile, kind);
    const original = await readLines(file);
    let lines = [...original];
    const keys = new Set(lines.map(anyLineKey).filter((k): k is string => k !== undefined));
    const results = entries.map((e) => {
      if (op === 'add') {
        if (keys.has(e.key)) return { entry: e.text, outcome: 'duplicate' as const };
        keys.add(e.key);
        lines.push(e.text);
        return { entry: e.text, outcome: 'added' as const };
      }
      if (!keys.has(e.key)) return { entry: e.text, outcome: 'not-listed' as const };
      keys.delete(e.key);
      lines = lines.filter((l) => anyLineKey(l) !== e.key);
      return { entry: e.text, outcome: 'removed' as const };
    });
    if (lines.length !== original.length) await writeLines(file, lines);
    return results;
  });
}
