/**
 * wrk through a forward proxy: wrk connects to the proxy and its Lua script makes every request
 * absolute-form (`GET http://host:port/path`), as a browser configured with a proxy does.
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';

/** What a load run reports: completed requests and their latency. */
export interface LoadResult {
  requests: number;
  seconds: number;
  p50ms: number;
  p99ms: number;
  /** Socket errors and timeouts, plus answers that were not 2xx. */
  errors: number;
}

const lua = (s: string) => JSON.stringify(s); // a JSON string is a valid Lua string literal for ASCII

/** The Lua script: absolute-form path, the headers, and one RESULT line wrk prints at the end. */
export function wrkLua(url: string, headers: Record<string, string>): string {
  const u = new URL(url);
  const lines = [
    `wrk.path = ${lua(url)}`,
    `wrk.headers["Host"] = ${lua(u.host)}`,
    ...Object.entries(headers).map(([k, v]) => `wrk.headers[${lua(k)}] = ${lua(v)}`),
    'done = function(summary, latency, requests)',
    '  local e = summary.errors',
    '  io.write(string.format("RESULT %d %d %d %d %d\\n", summary.requests, summary.duration,',
    '    latency:percentile(50), latency:percentile(99), e.connect + e.read + e.write + e.timeout + e.status))',
    'end',
  ];
  return `${lines.join('\n')}\n`;
}

/** Reads the RESULT line the script prints (microseconds in, ms and seconds out). */
export function parseWrkResult(output: string): LoadResult {
  const m = /RESULT (\d+) (\d+) (\d+) (\d+) (\d+)/.exec(output);
  if (!m) throw new Error(`unexpected wrk output: ${output.slice(0, 500)}`);
  const [requests, durationUs, p50, p99, errors] = m.slice(1).map(Number) as [
    number,
    number,
    number,
    number,
    number,
  ];
  return { requests, seconds: durationUs / 1e6, p50ms: p50 / 1000, p99ms: p99 / 1000, errors };
}

/** Runs wrk (one thread, `connections` keep-alive connections) against the proxy, `pin` prefixing it. */
export function runWrk(opts: {
  dir: string;
  pin: string[];
  proxyPort: number;
  url: string;
  headers: Record<string, string>;
  connections: number;
  seconds: number;
}): LoadResult {
  const script = path.join(opts.dir, `wrk-${opts.proxyPort}-${opts.connections}.lua`);
  writeFileSync(script, wrkLua(opts.url, opts.headers));
  const [cmd, ...args] = [...opts.pin, 'wrk'];
  const out = execFileSync(
    cmd!,
    [
      ...args,
      '-t1',
      `-c${opts.connections}`,
      `-d${opts.seconds}s`,
      '--timeout',
      '10s',
      '-s',
      script,
      `http://127.0.0.1:${opts.proxyPort}`,
    ],
    { encoding: 'utf8', maxBuffer: 1 << 20, timeout: (opts.seconds + 30) * 1000 },
  );
  return parseWrkResult(out);
}
