/** Host names of the bench: every name is under bench.test and routed to 127.0.0.1 by each contender. */
export const KEEPALIVE_HOST = 'page.bench.test';
export const CACHED_HOST = 'cached.bench.test';
export const HTTP_HOST = 'origin.bench.test';

/** The i-th never-asked-before name of a contender's round (the prefix keeps rounds and contenders apart). */
export function newHostName(prefix: string, i: number): string {
  return `${prefix}-h${i}.bench.test`;
}

/** Every name a contender may be asked for over the bench, for its hosts file. */
export function allHostNames(prefixes: string[], maxHosts: number): string[] {
  const names = [KEEPALIVE_HOST, CACHED_HOST, HTTP_HOST];
  for (const p of prefixes) for (let i = 0; i < maxHosts; i++) names.push(newHostName(p, i));
  return names;
}
