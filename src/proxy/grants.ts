/**
 * Continue permissions granted from a warn page: (subject, site) → expiry. Held in memory, bounded; a
 * restart shows the warn page again, which errs on the side of the policy. Only a verified HMAC token
 * (warn-token.ts) can create a grant.
 */
import { LRUCache } from 'lru-cache';

export class GrantStore {
  private readonly grants = new LRUCache<string, number>({ max: 100_000 });

  grant(subject: string, site: string, expiresAt: Date): void {
    this.grants.set(key(subject, site), expiresAt.getTime());
  }

  has(subject: string, site: string, now: Date): boolean {
    const expiry = this.grants.get(key(subject, site));
    return expiry !== undefined && expiry > now.getTime();
  }
}

function key(subject: string, site: string): string {
  return `${subject}\u0000${site}`;
}
