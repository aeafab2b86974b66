/**
 * Client connections per signed-in user (Basic proxy credentials), so that `users disable`, `remove` and
 * `passwd` end what that user already has open: a credential is checked per request, but a CONNECT tunnel
 * (raw or inspected), a WebSocket or a download in flight would otherwise outlive the change, and a
 * keep-alive connection would stay ready for the next request. On a revocation every connection the user
 * was identified on is destroyed; each adapter's own close handling then writes its row's outcome.
 *
 * Device- and network-mapped users are not held: they are not signed in, so nothing can revoke them.
 */
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import type { Identity, Revocation } from '../identity/identify-types.js';

export class UserConnections {
  private readonly byUser = new Map<string, Set<Duplex>>();
  /** The users each held socket was identified for (a keep-alive connection may carry several). */
  private readonly usersOf = new WeakMap<Duplex, Set<string>>();

  constructor(
    /** False once the user was revoked (see Identifier.isSignedIn). */
    private readonly isSignedIn: (user: string) => boolean,
    private readonly logger: Logger,
  ) {}

  /**
   * Holds `socket` for the identity an exchange decided with. False when that user was revoked between the
   * identification and now: the socket is then destroyed here and must not be used.
   */
  hold(identity: Identity | null, socket: Duplex): boolean {
    if (!identity?.user || identity.via !== 'basic') return true;
    const user = identity.user;
    if (!this.isSignedIn(user)) {
      socket.destroy();
      return false;
    }
    let users = this.usersOf.get(socket);
    if (!users) {
      users = new Set();
      this.usersOf.set(socket, users);
      socket.once('close', () => this.release(socket));
    }
    users.add(user);
    let sockets = this.byUser.get(user);
    if (!sockets) this.byUser.set(user, (sockets = new Set()));
    sockets.add(socket);
    return true;
  }

  /** Destroys every connection held for the revoked user; returns how many there were. */
  revoke(r: Revocation): number {
    const sockets = this.byUser.get(r.user);
    if (!sockets) return 0;
    this.byUser.delete(r.user);
    for (const socket of sockets) socket.destroy();
    this.logger.info(
      { user: r.user, why: r.why, connections: sockets.size },
      'user revoked: their open connections were closed',
    );
    return sockets.size;
  }

  /** Users with connections held now (for tests and status). */
  get users(): number {
    return this.byUser.size;
  }

  private release(socket: Duplex): void {
    for (const user of this.usersOf.get(socket) ?? []) {
      const sockets = this.byUser.get(user);
      sockets?.delete(socket);
      if (sockets?.size === 0) this.byUser.delete(user);
    }
    this.usersOf.delete(socket);
  }
}
