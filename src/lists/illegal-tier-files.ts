/**
 * Reads the illegal-content tier from the files the school's provider supplies: every `*.txt` and `*.list`
 * file (and every file named in `illegalContent.files`) in `illegalContent.dir` (default `<dataDir>/illegal/`), in name order, one entry a line (the syntax
 * is in src/policy/illegal-tier.ts). Nothing else feeds the tier: no local layer, no CLI command, no
 * profile or config entry can add an exception to it or take an entry out.
 *
 * Failing closed: a file named in `illegalContent.files` that is missing, a configured folder that does not
 * exist, a file that cannot be read, is not text, holds no entry, or has ANY line that is not an entry is
 * SG_ILLEGAL_TIER_UNUSABLE. Stricter than category lists (which tolerate a few bad lines): a provider's file
 * is machine-made, so a line we cannot read means we read the format differently from the provider, and an
 * entry silently skipped is an illegal address let through. What the caller does with the error is in
 * start.ts (block everything) and reload.ts (keep the tier in force).
 */
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import type { ReadonlyConfig } from '../config/load.js';
import { SchoolgateError, isSchoolgateError } from '../errors.js';
import {
  EMPTY_ILLEGAL_TIER,
  IllegalTierBuilder,
  unusableIllegalTier,
  type IllegalTier,
} from '../policy/illegal-tier.js';
import { forEachLine } from './read-lines.js';

const TIER_FILE = /^[^.].*\.(txt|list)$/i;
const SAFE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
const SUGGESTION =
  'Put back a good copy of the file your provider supplies (check the download finished), then run ' +
  '`schoolgate reload`. See docs/errors.md#sg_illegal_tier_unusable.';

export function illegalDirOf(config: ReadonlyConfig): string {
  return config.illegalContent.dir ?? path.join(config.dataDir, 'illegal');
}

/** The tier, or SG_ILLEGAL_TIER_UNUSABLE naming the file (and line) that failed. */
export async function loadIllegalTier(config: ReadonlyConfig): Promise<IllegalTier> {
  const dir = illegalDirOf(config);
  const names = await tierFileNames(dir, config.illegalContent.dir !== null, config.illegalContent.files);
  for (const required of config.illegalContent.files)
    if (!names.includes(required))
      throw unusable(`${path.join(dir, required)}: the file is missing (named in illegalContent.files)`, {
        file: required,
      });
  if (names.length === 0) return EMPTY_ILLEGAL_TIER;
  const builder = new IllegalTierBuilder();
  for (const name of names) {
    const file = path.join(dir, name);
    builder.startSource(name);
    let entries = 0;
    try {
      await forEachLine([file], (line, lineNo) => {
        const outcome = builder.addLine(line);
        if (outcome === 'added') entries++;
        else if (outcome !== 'skipped')
          throw unusable(
            `${file}: line ${lineNo} is not an entry (${outcome.invalid}): ${JSON.stringify(line.slice(0, 200))}`,
            {
              file: name,
              line: lineNo,
            },
          );
      });
    } catch (err) {
      if (isSchoolgateError(err) && err.code === 'SG_ILLEGAL_TIER_UNUSABLE') throw err;
      throw unusable(`${file}: ${err instanceof Error ? err.message : String(err)}`, { file: name });
    }
    // A provider's list is never empty: an empty file is a failed download, not a policy.
    if (entries === 0) throw unusable(`${file}: the file holds no entry`, { file: name });
  }
  return builder.build();
}

/** loadIllegalTier(), with a failure turned into a tier that blocks every request (the start's choice). */
export async function loadIllegalTierOrBlockAll(config: ReadonlyConfig): Promise<IllegalTier> {
  try {
    return await loadIllegalTier(config);
  } catch (err) {
    if (!isSchoolgateError(err)) throw err;
    return unusableIllegalTier(err.code, err.message);
  }
}

async function tierFileNames(
  dir: string,
  configured: boolean,
  required: readonly string[],
): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    // The default folder may be absent (no provider files yet: `status` says so); a configured one may not.
    if (code === 'ENOENT' && !configured) return [];
    throw unusable(`${dir}: the illegal-content folder cannot be read (${code ?? String(err)})`, { dir });
  }
  const out: string[] = [];
  for (const name of names.filter((n) => TIER_FILE.test(n) || required.includes(n)).sort()) {
    // The name is the list's name in rows, alerts and status (`illegal:<file>`): plain characters only.
    if (!SAFE_NAME.test(name))
      throw unusable(`${path.join(dir, name)}: rename the file to letters, digits, '.', '_' and '-' only`, {
        file: name,
      });
    const info = await stat(path.join(dir, name)).catch(() => null);
    if (info === null) throw unusable(`${path.join(dir, name)}: the file cannot be read`, { file: name });
    if (info.isFile()) out.push(name);
  }
  return out;
}

function unusable(message: string, context: Record<string, unknown>): SchoolgateError {
  return new SchoolgateError('SG_ILLEGAL_TIER_UNUSABLE', message, { context, suggestion: SUGGESTION });
}
