/** What every contender offers the bench: how to start it, and how to drive it once started. */
import { HTTP_HOST } from './names.js';
import type { Origin } from './origins.js';
import type { Started } from './spawn.js';

export interface BenchContext {
  /** The bench's temp folder. */
  top: string;
  /** This contender's own folder inside it. */
  dir: string;
  httpOrigin: Origin;
  tlsOrigin: Origin & { caFile: string };
  /** /etc/hosts format: every bench name → 127.0.0.1 (for contenders that read one). */
  hostsFile: string;
}

export interface Running {
  process: Started;
  port: number;
  /** The absolute-form URL wrk asks for the body at `path` (/1k, /100k). */
  httpUrl(path: string): string;
  /** Request headers every request carries (Proxy-Authorization). */
  headers: Record<string, string>;
  /** The CA the contender signs inspected leaves with (a PEM file): set when it inspects HTTPS. */
  inspectCaFile?: string;
}

export interface Contender {
  /** Short key, also the prefix of its new-host names. */
  key: string;
  name: string;
  /** Why it cannot run here (not installed), else undefined. */
  missing(): string | undefined;
  http: boolean;
  tls: boolean;
  start(ctx: BenchContext): Promise<Running>;
}

/**
 * How a contender asks the HTTP origin for a body: by the bench name (routed by its hosts file or
 * addon), or by address for contenders that resolve names themselves.
 */
export function originUrls(ctx: BenchContext, by: 'name' | 'address'): (route: string) => string {
  const host = by === 'name' ? HTTP_HOST : '127.0.0.1';
  return (route) => `http://${host}:${ctx.httpOrigin.port}${route}`;
}
