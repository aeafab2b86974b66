/**
 * Console sessions, in memory: a restart signs everyone out, which is the safe direction. The id is 32
 * random bytes; a new one is made at every sign-in (no fixation: an id planted before sign-in never
 * becomes a signed-in one). A session ends after `idleMs` unused or `absoluteMs` after sign-in.
 */
import { randomBytes } from 'node:crypto';
import type { Role } from './accounts.js';

export interface Session {
  id: string;
  name: string;
  role: Role;
  /** The school of the trust the account was limited to at sign-in; null: the whole trust. */
  site: string | null;
  createdAt: number;
  lastSeen: number;
}

export class Sessions {
  private readonly byId = new Map<string, Session>();

  constructor(
    private readonly limits: { idleMs: number; absoluteMs: number },
    private readonly now: () => number = Date.now,
  ) {}

  create(name: string, role: Role, site: string | null = null): Session {
    const at = this.now();
    const id = randomBytes(32).toString('base64url');
    const s: Session = { id, name, role, site, createdAt: at, lastSeen: at };
    this.byId.set(s.id, s);
    this.sweep(at);
    return s;
  }

  /** The live session with this id (touched), or null: unknown, idle too long or too old. */
  get(id: string | undefined): Session | null {
    if (!id) return null;
    const s = this.byId.get(id);
    if (!s) return null;
    const at = this.now();
    if (this.expired(s, at)) {
      this.byId.delete(id);
      return null;
    }
    s.lastSeen = at;
    return s;
  }

  end(id: string | undefined): void {
    if (id) this.byId.delete(id);
  }

  get size(): number {
    return this.byId.size;
  }

  private expired(s: Session, at: number): boolean {
    return at - s.lastSeen >= this.limits.idleMs || at - s.createdAt >= this.limits.absoluteMs;
  }

  /** Bounded memory: expired sessions go whenever a new one is made. */
  private sweep(at: number): void {
    for (const [id, s] of this.byId) if (this.expired(s, at)) this.byId.delete(id);
  }
}
