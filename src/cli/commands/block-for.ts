/**
 * A category the school creates (`lists new`, `lists import --create`) is enforced by no profile until one
 * names it: every profile allows it. So the command asks which profiles block it: `--block-for pupil,guest`,
 * or a question on a terminal; without either (a script), a warning says that nothing enforces it.
 */
import { createInterface } from 'node:readline/promises';
import { InvalidArgumentError, type Command } from 'commander';
import type { ReadonlyConfig } from '../../config/load.js';
import type { ChangeOptions } from '../common.js';
import { needProfiles, setCategoryAction } from './profiles.js';

export function withBlockFor(command: Command): Command {
  return command.option(
    '--block-for <profiles>',
    'comma-separated profiles that block the new category (e.g. pupil,guest); "none" for none',
    parseProfileList,
  );
}

function parseProfileList(value: string): string[] {
  const names = value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (names.length === 0) throw new InvalidArgumentError('expected profile names, e.g. pupil,guest');
  return names.length === 1 && names[0] === 'none' ? [] : names;
}

/** Checks --block-for before anything is written (an unknown profile changes nothing). */
export function checkBlockFor(config: ReadonlyConfig, blockFor: readonly string[] | undefined): void {
  if (blockFor) needProfiles(config, blockFor);
}

/**
 * After the category exists: block it for the profiles given, or ask on a terminal, or warn. Returns the
 * profiles that now block it, or the warning that none does.
 */
export async function enforceNewCategory(
  config: ReadonlyConfig,
  category: string,
  opts: ChangeOptions & { blockFor?: string[]; json?: boolean },
): Promise<{ blockedFor: string[]; unenforced?: string }> {
  let profiles = opts.blockFor;
  if (profiles === undefined && process.stdin.isTTY && process.stdout.isTTY && !opts.json)
    profiles = await ask(config, category);
  if (profiles === undefined || profiles.length === 0) {
    const names = Object.keys(config.profiles);
    const warning =
      `no profile enforces category ${category}: every profile allows it. ` +
      `Block it with \`schoolgate profiles set <profile> ${category} block\` ` +
      `(profiles: ${names.join(', ')}), or pass --block-for ${names.filter((n) => n === 'pupil' || n === 'guest').join(',') || names[0]} when creating it.`;
    // With --json the warning is in the JSON answer (`unenforced`), where a script reads it.
    if (!opts.json) console.error(`warning: ${warning}`);
    return { blockedFor: [], unenforced: warning };
  }
  const results = await setCategoryAction(config, profiles, category, 'block', opts);
  if (!opts.json) console.log(`blocked ${category} for ${results.map((r) => r.profile).join(', ')} (local)`);
  return { blockedFor: profiles };
}

async function ask(config: ReadonlyConfig, category: string): Promise<string[]> {
  const names = Object.keys(config.profiles);
  const rl = createInterface({ input: process.stdin, output: process.stdout });
  try {
    for (let attempt = 0; attempt < 3; attempt++) {
      const answer = await rl.question(
        `Which profiles should block ${category}? (comma-separated from ${names.join(', ')}; empty for none) `,
      );
      const picked = answer
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
      const unknown = picked.filter((p) => !names.includes(p));
      if (unknown.length === 0) return picked;
      console.log(`no profile named ${unknown.join(', ')}`);
    }
    return [];
  } finally {
    rl.close();
  }
}
