/**
 * The process log (pino): lifecycle and errors at info, per-request lines only at debug — the audit
 * database, not this log, is the record of requests. Pretty output only on a terminal.
 */
import { pino, type Logger } from 'pino';
import pretty from 'pino-pretty';

export function createLogger(level: string, destination: NodeJS.WritableStream = process.stdout): Logger {
  const isTerminal = (destination as { isTTY?: boolean }).isTTY === true;
  if (isTerminal) {
    return pino(
      { level },
      pretty({ colorize: true, translateTime: 'SYS:HH:MM:ss', ignore: 'pid,hostname', destination }),
    );
  }
  return pino({ level, base: { app: 'schoolgate' } }, destination);
}
