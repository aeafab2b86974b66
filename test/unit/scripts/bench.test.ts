import { describe, expect, it } from 'vitest';
import { e2guardianConf } from '../../../scripts/bench/others.js';
import { parseStat, treeSum, type ProcStat } from '../../../scripts/bench/proc.js';
import { squidConf } from '../../../scripts/bench/squid.js';
import { cell, formatTable, median, summarise, type Sample } from '../../../scripts/bench/table.js';
import { parseWrkResult, wrkLua } from '../../../scripts/bench/wrk.js';

/** A /proc/<pid>/stat line with the given fields (3 onwards) set; the rest zero. */
function statLine(pid: number, comm: string, f: Record<number, number>): string {
  const fields = Array.from({ length: 50 }, (_, i) => String(f[i + 3] ?? 0));
  fields[0] = 'S';
  return `${pid} (${comm}) ${fields.join(' ')}\n`;
}

describe('parseStat', () => {
  it('reads ppid, the four time fields and RSS, whatever the command name holds', () => {
    const s = parseStat(statLine(42, 'squid) (kid 1', { 4: 7, 14: 100, 15: 20, 16: 3, 17: 4, 24: 512 }));
    expect(s).toEqual({ pid: 42, ppid: 7, ticks: 127, rssPages: 512 });
  });

  it('refuses a line that is not a stat line', () => {
    expect(() => parseStat('hello')).toThrow(/not a \/proc stat line/);
  });
});

describe('treeSum', () => {
  const p = (pid: number, ppid: number, ticks: number, rssPages = 1): ProcStat => ({
    pid,
    ppid,
    ticks,
    rssPages,
  });
  const stats = [p(1, 0, 1000), p(10, 1, 5), p(11, 10, 7, 3), p(12, 10, 11), p(13, 11, 13), p(20, 1, 999)];

  it.each([
    { root: 10, ticks: 5 + 7 + 11 + 13, rssPages: 1 + 3 + 1 + 1, processes: 4 },
    { root: 11, ticks: 7 + 13, rssPages: 4, processes: 2 },
    { root: 13, ticks: 13, rssPages: 1, processes: 1 },
    { root: 99, ticks: 0, rssPages: 0, processes: 0 },
  ])('sums the tree under $root and nothing beside it', ({ root, ...want }) => {
    expect(treeSum(stats, root)).toEqual(want);
  });
});

describe('wrk Lua script', () => {
  it('makes absolute-form requests with the Host and the given headers, and prints one RESULT line', () => {
    const script = wrkLua('http://origin.bench.test:8080/1k', { 'Proxy-Authorization': 'Basic YTpi' });
    expect(script).toContain('wrk.path = "http://origin.bench.test:8080/1k"');
    expect(script).toContain('wrk.headers["Host"] = "origin.bench.test:8080"');
    expect(script).toContain('wrk.headers["Proxy-Authorization"] = "Basic YTpi"');
    expect(script).toMatch(/done = function\(summary, latency, requests\)/);
    expect(script).toContain('RESULT %d %d %d %d %d');
  });

  it('escapes quotes in header values', () => {
    expect(wrkLua('http://a.test/', { X: 'say "hi"' })).toContain('wrk.headers["X"] = "say \\"hi\\""');
  });

  it('reads the RESULT line in ms and seconds', () => {
    const out = 'Running 4s test\nRESULT 1000 4000000 1500 20250 3\n';
    expect(parseWrkResult(out)).toEqual({ requests: 1000, seconds: 4, p50ms: 1.5, p99ms: 20.25, errors: 3 });
    expect(() => parseWrkResult('unable to connect')).toThrow(/unexpected wrk output/);
  });
});

describe('the table', () => {
  const sample = (requests: number, cpuMs: number, p50ms = 1): Sample => ({
    requests,
    seconds: 2,
    p50ms,
    p99ms: p50ms * 4,
    errors: 1,
    cpuMs,
    rssMb: 30,
  });

  it('takes medians over rounds and CPU per completed request', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 2, 3])).toBe(2.5);
    const m = summarise([sample(1000, 500), sample(2000, 400), sample(1500, 600)]);
    expect(m.rps).toBe(750);
    expect(m.cpuMsPerReq).toBeCloseTo(0.4);
    expect(m.errors).toBe(3);
    expect(m.rounds).toBe(3);
  });

  it('gives each figure with its ratio to Squid and to the bare forwarder', () => {
    expect(cell(0.3, 0.1, 0.6)).toBe('0.300 (3.00× / 0.50×)');
    expect(cell(1234, undefined, 617)).toBe('1234 (– / 2.00×)');
    expect(cell(Number.NaN, 1, 1)).toBe('– (– / –)');
  });

  it('prints one row per contender with the workload, the references dividing by themselves', () => {
    const table = formatTable([
      {
        workload: 'HTTP 1 KB c16',
        squid: 'Squid',
        bare: 'bare',
        rows: [
          { contender: 'schoolgate', measure: summarise([sample(2000, 600, 2)]) },
          { contender: 'Squid', measure: summarise([sample(4000, 400)]) },
          { contender: 'bare', measure: summarise([sample(1000, 500)]) },
        ],
      },
    ]);
    const lines = table.split('\n');
    expect(lines[0]).toBe(
      '| work | proxy | req/s | p50 ms | p99 ms | RSS MB | CPU ms/req | errors | rounds |',
    );
    expect(lines).toHaveLength(5);
    expect(lines[2]).toBe(
      '| HTTP 1 KB c16 | schoolgate | 1000 (0.50× / 2.00×) | 2.00 (2.00× / 2.00×) | 8.00 (2.00× / 2.00×) | 30.0 (1.00× / 1.00×) | 0.300 (3.00× / 0.60×) | 1 | 1 |',
    );
    expect(lines[3]).toContain('| Squid | 2000 (1.00× / 4.00×)');
  });
});

describe('generated daemon configurations', () => {
  it('Squid: no cache, loopback only, the hosts file, and ssl-bump with its CA and helper when asked', () => {
    const plain = squidConf({ dir: '/t', port: 3128, hostsFile: '/t/hosts', user: 'proxy' });
    expect(plain).toContain('http_port 127.0.0.1:3128\n');
    expect(plain).toContain('cache deny all');
    expect(plain).toContain('hosts_file /t/hosts');
    expect(plain).toContain('cache_effective_user proxy');
    expect(plain).not.toContain('ssl_bump');
    const bump = squidConf({
      dir: '/t',
      port: 3129,
      hostsFile: '/t/hosts',
      bump: { caCert: '/t/ca.crt', caKey: '/t/ca.key', certgen: '/c', originCa: '/t/origin.pem' },
    });
    expect(bump).toMatch(/http_port 127\.0\.0\.1:3129 ssl-bump tls-cert=\/t\/ca\.crt tls-key=\/t\/ca\.key /);
    expect(bump).toContain('ssl_bump bump all');
    expect(bump).toContain('tls_outgoing_options cafile=/t/origin.pem');
    expect(bump).not.toContain('cache_effective_user');
  });

  it('e2guardian: the packaged file with port, pid, log and foreground replaced once, missing keys added', () => {
    const packaged = [
      'filterip =',
      'filterports = 8080',
      '#filterports = 8081',
      "#pidfilename = '/var/run/e2guardian.pid'",
      'nodaemon = off',
      'language = ukenglish',
    ].join('\n');
    const conf = e2guardianConf(packaged, { port: 9000, httpsPort: 9001, dir: '/t' });
    expect(conf).toContain('filterip = 127.0.0.1\nfilterports = 9000\n#filterports = 8081\n');
    expect(conf).toContain("pidfilename = '/t/e2guardian.pid'");
    expect(conf).toContain('nodaemon = on');
    expect(conf).toContain('language = ukenglish');
    expect(conf).toContain("loglocation = '/t/access.log'");
    expect(conf).toContain('transparenthttpsport = 9001');
  });
});
