/**
 * The text access log (accessLog.path): one line per exchange, for a technician to `tail -f` or ship to
 * syslog. The SQLite audit stays the record; this is a convenience copy and never delays, fails or changes
 * a request: it is a subscriber of the exchange's events (src/exchange/events.ts), which run after the
 * answer went out, and it writes through a stream (no synchronous I/O after the open at start).
 *
 * A line needs the row (`committed`) and, for a forwarded request or a tunnel, its outcome (`completed`:
 * status, bytes, elapsed). A row the proxy answered itself (a block or warn page, a 407, a refusal) has no
 * later outcome worth waiting for: it is written at once. A forwarded row waits for its outcome, in a map
 * bounded by `maxPending` (the oldest is written without its outcome when full, never dropped).
 *
 * Rotation: the file is opened with O_APPEND, so logrotate's copytruncate is safe (the next write lands at
 * the new end); `reopen()` (SIGUSR1, like Squid's `squid -k rotate`) closes the file and opens the path
 * again, for logrotate's default rename-then-signal.
 */
import { closeSync, createWriteStream, openSync, type WriteStream } from 'node:fs';
import type { Logger } from 'pino';
import type { AuditEvent, AuditOutcome } from '../audit/types.js';
import { SchoolgateError } from '../errors.js';
import type { ExchangeEvents } from '../exchange/events.js';
import { formatLine, type AccessLogFormat, type LineContext } from './line.js';

export interface AccessLogOptions {
  path: string;
  format: AccessLogFormat;
  /** Read per line: upstream.proxy can change on reload. */
  context: () => LineContext;
  logger: Logger;
  /** Forwarded rows waiting for their outcome (open tunnels, downloads). */
  maxPending?: number;
  /** Bytes buffered for a slow disk before lines are dropped (counted and logged). */
  maxBufferedBytes?: number;
}

export interface AccessLogStats {
  lines: number;
  dropped: number;
  reopened: number;
  errors: number;
}

const FORWARDED = new Set<AuditEvent['action']>(['allow', 'continued']);

export class AccessLog {
  readonly stats: AccessLogStats = { lines: 0, dropped: 0, reopened: 0, errors: 0 };
  private stream: WriteStream | null;
  private readonly pending = new Map<string, AuditEvent>();
  private readonly maxPending: number;
  private readonly maxBuffered: number;
  private dropping = false;
  private closed = false;

  constructor(private readonly opts: AccessLogOptions) {
    this.maxPending = opts.maxPending ?? 50_000;
    this.maxBuffered = opts.maxBufferedBytes ?? 8 * 1024 * 1024;
    checkWritable(opts.path);
    this.stream = this.open();
  }

  subscribe(events: ExchangeEvents): void {
    events.on('committed', ({ row }) => this.committed(row));
    events.on('completed', ({ id, outcome }) => this.completed(id, outcome));
  }

  committed(row: AuditEvent): void {
    if (!FORWARDED.has(row.action)) return this.write(row, null);
    if (this.pending.size >= this.maxPending) {
      const [oldestId, oldest] = this.pending.entries().next().value as [string, AuditEvent];
      this.pending.delete(oldestId);
      this.write(oldest, null);
    }
    this.pending.set(row.id, row);
  }

  completed(id: string, outcome: AuditOutcome): void {
    const row = this.pending.get(id);
    if (!row) return; // answered by the proxy (written at commit), or never committed (refused with 503)
    this.pending.delete(id);
    this.write(row, outcome);
  }

  /** Closes the file and opens the path again (after logrotate renamed it). */
  reopen(): void {
    if (this.closed) return;
    const old = this.stream;
    this.stream = this.open();
    this.stats.reopened++;
    old?.end();
    this.opts.logger.info({ path: this.opts.path }, 'access log reopened');
  }

  /** Writes the rows still waiting for an outcome (without it), then closes the file. */
  async close(): Promise<void> {
    if (this.closed) return;
    for (const row of this.pending.values()) this.write(row, null);
    this.pending.clear();
    this.closed = true;
    const stream = this.stream;
    this.stream = null;
    if (stream) await new Promise<void>((resolve) => stream.end(resolve));
  }

  private write(row: AuditEvent, outcome: AuditOutcome | null): void {
    const stream = this.stream;
    if (!stream) return void this.stats.dropped++;
    if (stream.writableLength > this.maxBuffered) {
      this.stats.dropped++;
      if (!this.dropping)
        this.opts.logger.warn(
          { path: this.opts.path, buffered: stream.writableLength },
          'access log: the disk is not keeping up; lines are dropped (the audit database has every row)',
        );
      this.dropping = true;
      return;
    }
    this.dropping = false;
    stream.write(`${formatLine(this.opts.format, row, outcome, this.opts.context())}\n`);
    this.stats.lines++;
  }

  private open(): WriteStream {
    // O_APPEND ('a'): copytruncate-safe. Owner-only: the lines name people and what they asked for.
    const stream = createWriteStream(this.opts.path, { flags: 'a', mode: 0o600 });
    stream.on('error', (err) => {
      this.stats.errors++;
      if (this.stream === stream) this.stream = null;
      this.opts.logger.error(
        { err: err.message, path: this.opts.path },
        'access log: cannot write; no lines until it is reopened (SIGUSR1) — the audit database has every row',
      );
    });
    return stream;
  }
}

/** At start: a path that cannot be opened for appending stops `serve` with a clear error. */
function checkWritable(file: string): void {
  try {
    closeSync(openSync(file, 'a', 0o600));
  } catch (err) {
    throw new SchoolgateError('SG_ACCESS_LOG_UNWRITABLE', `the access log ${file} cannot be opened`, {
      context: { path: file, cause: (err as Error).message },
      suggestion:
        'create its folder and give the schoolgate user write access to it, or remove accessLog.path',
    });
  }
}
