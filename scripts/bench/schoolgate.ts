/**
 * schoolgate as a school runs it: Basic authentication required, every shipped category plus all of UT1
 * (when ../shared/data/ut1 is there) loaded, HTTPS inspection on, the durable audit (each row committed
 * before the answer), pinned to the proxy core.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { caPaths } from '../../src/tls/ca.js';
import { originUrls, type Contender } from './contender.js';
import { pinTo, startProcess, waitForOutput } from './spawn.js';

const here = path.dirname(new URL(import.meta.url).pathname);
const ownCli = path.join(here, '..', '..', 'src', 'cli', 'main.js');
const USER = 'bench';
const PASSWORD = 'bench-password';

/**
 * `baselineCli`: another build's dist/src/cli/main.js (bench --baseline-cli), for a before/after in one run.
 * `nodeArgs`: node flags for the serve process (scripts/profile-proxy.ts passes --cpu-prof).
 */
export function schoolgate(
  ut1: string | undefined,
  baselineCli?: string,
  nodeArgs: string[] = [],
): Contender {
  const cli = baselineCli ?? ownCli;
  return {
    key: baselineCli ? 'sg-base' : 'sg',
    name: baselineCli ? 'schoolgate (baseline build)' : 'schoolgate',
    http: true,
    tls: true,
    missing: () => (existsSync(cli) ? undefined : `${cli} is missing: npm run build`),
    async start(ctx) {
      const certs = path.join(ctx.dir, 'certs');
      const config = {
        listen: { host: '127.0.0.1', port: 0 },
        httpPorts: [ctx.httpOrigin.port],
        tunnelPorts: [ctx.tlsOrigin.port],
        hostsFile: ctx.hostsFile,
        identity: { basicAuth: true, requireAuth: true },
        tls: { inspect: true, extraCaFiles: [ctx.tlsOrigin.caFile], certsDir: certs },
        log: { level: 'warn' },
      };
      const file = path.join(ctx.dir, 'config.yaml');
      writeFileSync(file, JSON.stringify(config));
      const common = ['--config', file, '--data', path.join(ctx.dir, 'data')];
      const run = (args: string[], input?: string) =>
        execFileSync(process.execPath, [cli, ...args, ...common], {
          encoding: 'utf8',
          ...(input === undefined ? {} : { input }),
        });
      run(['users', 'add', USER, '--profile', 'pupil', '--password-stdin'], `${PASSWORD}\n`);
      if (ut1) {
        const t0 = performance.now();
        run(['lists', 'import-tree', ut1, '--force', '--json']);
        console.log(
          `schoolgate: imported UT1 from ${ut1} in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
        );
      }
      const p = startProcess(pinTo(0), process.execPath, [...nodeArgs, cli, 'serve', ...common]);
      const m = await waitForOutput(p, /filtering on [^\s]+:(\d+)/, 'schoolgate serve');
      return {
        process: p,
        port: Number(m[1]),
        httpUrl: originUrls(ctx, 'name'),
        headers: { 'Proxy-Authorization': `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}` },
        inspectCaFile: caPaths(certs).cert,
      };
    },
  };
}
