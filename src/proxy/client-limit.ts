/**
 * One client address may hold at most `max` connections (hostile-inputs E03: thousands of idle sockets
 * from one machine must not starve everyone else). Extra connections are closed before any byte is read;
 * a warning is logged at most once a minute per address. Both maps are keyed by client address and must
 * shrink again: an address leaves `open` with its last connection, and `warned` forgets addresses after
 * the minute (a pupil cycling IPv6 privacy addresses would otherwise grow it for ever).
 */
import type { Server } from 'node:net';
import type { Logger } from 'pino';

const WARN_EVERY_MS = 60_000;

export class ClientConnectionLimit {
  private readonly open = new Map<string, number>();
  private readonly warned = new Map<string, number>();

  constructor(
    private readonly max: number,
    private readonly logger: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  attach(server: Server): void {
    server.on('connection', (socket) => {
      const address = socket.remoteAddress ?? '';
      const count = (this.open.get(address) ?? 0) + 1;
      if (count > this.max) {
        this.warnOnce(address);
        socket.destroy();
        return;
      }
      this.open.set(address, count);
      socket.once('close', () => {
        const left = (this.open.get(address) ?? 1) - 1;
        if (left <= 0) this.open.delete(address);
        else this.open.set(address, left);
      });
    });
  }

  /** Addresses with connections open, and addresses warned about within the minute (tests, status). */
  get sizes(): { open: number; warned: number } {
    return { open: this.open.size, warned: this.warned.size };
  }

  private warnOnce(address: string): void {
    const now = this.now();
    if ((this.warned.get(address) ?? -Infinity) > now - WARN_EVERY_MS) return;
    for (const [a, at] of this.warned) if (at <= now - WARN_EVERY_MS) this.warned.delete(a);
    this.warned.set(address, now);
    this.logger.warn(
      { client: address, max: this.max },
      'client over its connection limit: closing new connections',
    );
  }
}
