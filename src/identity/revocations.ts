/**
 * Who signed in with Basic credentials, to notice when they lose access: a user disabled, removed or given a
 * new password is reported to the listeners (the proxy closes their tunnels and keep-alive connections).
 * The users table is re-read only when its version moved (one `PRAGMA data_version` otherwise).
 */
import { LRUCache } from 'lru-cache';
import type { Revocation } from './identify-types.js';
import type { UserStore } from './user-store.js';

export class SignedInUsers {
  /** Local sign-ins and the hash they were verified against. */
  private readonly locals = new LRUCache<string, string>({ max: 50_000, ttl: 24 * 3_600_000 });
  /** Directory sign-ins (not in `locals`: poll would read them as removed). */
  private readonly directoryUsers = new LRUCache<string, true>({ max: 50_000, ttl: 24 * 3_600_000 });
  private readonly listeners = new Set<(r: Revocation) => void>();
  private usersVersion: number;

  constructor(private readonly users: UserStore) {
    this.usersVersion = users.version();
  }

  local(user: string, passwordHash: string): void {
    this.locals.set(user, passwordHash);
  }

  directory(user: string): void {
    this.directoryUsers.set(user, true);
  }

  /** Whether `user` signed in and has not been revoked since. Directory users are not revoked from here
   * (the directory does not tell): signed in until forgotten. */
  has(user: string): boolean {
    return this.locals.has(user) || this.directoryUsers.has(user);
  }

  onRevoked(listener: (r: Revocation) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** poll() when the users table's version is no longer the one last polled. */
  pollIfMoved(version: number): void {
    if (version !== this.usersVersion) this.poll();
  }

  /** The revocations since the last poll (each also sent to the listeners). */
  poll(): Revocation[] {
    const version = this.users.version();
    if (version === this.usersVersion) return [];
    this.usersVersion = version;
    if (this.locals.size === 0 && this.directoryUsers.size === 0) return [];
    const revoked: Revocation[] = [];
    // Directory users with a local row (imported) are revoked by `users disable` or `users passwd`.
    for (const name of this.directoryUsers.keys()) {
      const user = this.users.get(name);
      if (user?.disabled) revoked.push({ user: name, why: 'disabled' });
      else if (user?.passwordHash) revoked.push({ user: name, why: 'password-changed' });
    }
    for (const [name, hash] of this.locals.entries()) {
      const user = this.users.get(name);
      const why = !user
        ? 'removed'
        : user.disabled
          ? 'disabled'
          : user.passwordHash !== hash
            ? 'password-changed'
            : null;
      if (why) revoked.push({ user: name, why });
    }
    for (const r of revoked) {
      this.locals.delete(r.user);
      this.directoryUsers.delete(r.user);
      for (const listener of this.listeners) {
        try {
          listener(r);
        } catch {
          // A listener's failure must not stop the others or the request that noticed.
        }
      }
    }
    return revoked;
  }
}
