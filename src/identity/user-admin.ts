/**
 * Adding, listing and removing the users Basic proxy authentication checks against: what `schoolgate
 * users add|list|remove` and the console's users page both call. Every change is in the admin-changes
 * record with who and why; a password is stored only as its scrypt hash and never recorded or echoed.
 */
import { controlRequest } from '../app/control.js';
import type { ReadonlyConfig } from '../config/load.js';
import { SchoolgateError } from '../errors.js';
import { withState } from '../state/store.js';
import { MIN_PASSWORD } from './import/plain.js';
import { hashPassword } from './password.js';
import { optionalSite } from './site.js';
import { checkUserName, publicUser } from './user-store.js';

export type PublicUser = ReturnType<typeof publicUser>;

/** Who asked for a change and why (the CLI's --by/--reason, the console's signed-in person and form). */
export interface ChangeBy {
  by?: string | undefined;
  reason?: string | undefined;
}

export function needProfile(config: ReadonlyConfig, profile: string, where = '--profile'): void {
  if (!(profile in config.profiles))
    throw new SchoolgateError('SG_PROFILE_UNKNOWN', `${where}: no profile named "${profile}"`, {
      suggestion: `use one of: ${Object.keys(config.profiles).join(', ')}`,
    });
}

export function checkPassword(password: string, where = 'the password'): void {
  if (password.length < MIN_PASSWORD)
    throw new SchoolgateError(
      'SG_ARGUMENT_INVALID',
      `${where} must have at least ${MIN_PASSWORD} characters`,
      { suggestion: 'choose a longer password' },
    );
}

export function listUsers(config: ReadonlyConfig): Promise<PublicUser[]> {
  return withState(config.dataDir, (s) => s.users.list().map(publicUser));
}

export interface NewUser {
  name: string;
  profile: string;
  displayName?: string | undefined;
  /** undefined: no password (the user signs in some other way, or not at all until one is set). */
  password?: string | undefined;
  /** The school of a trust the user belongs to. */
  site?: string | undefined;
}

/** Adds one user; SG_USER_EXISTS, SG_PROFILE_UNKNOWN or a short password change nothing. */
export async function addUser(config: ReadonlyConfig, user: NewUser, change: ChangeBy): Promise<PublicUser> {
  needProfile(config, user.profile);
  const site = optionalSite(user.site);
  if (user.password !== undefined) checkPassword(user.password);
  return withState(config.dataDir, async (state) => {
    checkUserName(user.name);
    const hash = user.password === undefined ? null : await hashPassword(user.password);
    return state.transaction(() => {
      if (state.users.get(user.name))
        throw new SchoolgateError('SG_USER_EXISTS', `user "${user.name}" already exists`, {
          suggestion: 'choose another name, or change this user with `schoolgate users passwd`',
        });
      state.users.insert({
        name: user.name,
        profile: user.profile,
        displayName: user.displayName ?? '',
        passwordHash: hash,
        site: site ?? null,
      });
      const after = publicUser(state.users.get(user.name)!);
      state.changes.record({
        action: 'users.add',
        target: `user ${user.name}`,
        after,
        reason: change.reason,
        by: change.by,
      });
      return after;
    });
  });
}

/**
 * Removes one user (their audit records stay); SG_USER_UNKNOWN when there is none. `revoked`: the open
 * connections of theirs the running proxy closed.
 */
export async function removeUser(
  config: ReadonlyConfig,
  name: string,
  change: ChangeBy,
): Promise<{ before: PublicUser; revoked: number }> {
  const before = await withState(config.dataDir, (state) =>
    state.transaction(() => {
      const removed = publicUser(state.users.remove(name));
      state.changes.record({
        action: 'users.remove',
        target: `user ${name}`,
        before: removed,
        reason: change.reason,
        by: change.by,
      });
      return removed;
    }),
  );
  return { before, revoked: await tellRunningProxy(config.dataDir) };
}

/**
 * Asks the proxy running on this data directory to re-read its users now, so a revoked user's open
 * tunnels and keep-alive connections close at once; the number it closed. Best effort: with no proxy
 * running there is nothing to close, and a proxy that cannot be reached notices by itself within seconds.
 */
export async function tellRunningProxy(dataDir: string): Promise<number> {
  try {
    const { revoked } = await controlRequest<{ revoked: number }>(dataDir, 'users-changed', {}, 10_000);
    return revoked;
  } catch {
    // Not running, or an older proxy without `users-changed`: its own poll closes them.
    return 0;
  }
}
