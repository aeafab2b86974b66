/**
 * Policy replication tests (test/integration/postgres/policy-*.test.ts): a proxy node on a shared
 * PostgreSQL with its own data dir, and the CLI arguments that edit that data dir.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import type { RunningSchoolgate } from '../../src/app/start.js';
import type { ReadonlyConfig } from '../../src/config/load.js';
import { FIXTURE_PROFILES, startTestProxy, tempDir, testConfig } from './schoolgate.js';

export interface PolicyNode {
  name: string;
  config: ReadonlyConfig;
  proxy: RunningSchoolgate;
  /** --config, --data and --categories for `runCli` on this node. */
  cli: string[];
}

export async function startPolicyNode(
  name: string,
  opts: { url: string; originPort: number; hosts: readonly string[]; policyVersionsKept?: number },
): Promise<PolicyNode> {
  const dir = tempDir();
  const keep = opts.policyVersionsKept ? { policyVersionsKept: opts.policyVersionsKept } : {};
  const config = testConfig(
    {
      httpPorts: [opts.originPort],
      hosts: Object.fromEntries(opts.hosts.map((h) => [h, '127.0.0.1'])),
      store: { postgres: { url: opts.url, node: name, ...keep } },
    },
    dir,
  );
  const proxy = await startTestProxy(config);
  // The CLI reads a config file: the fixture profiles (the store is the proxy's business).
  const file = path.join(dir, 'cli-config.json');
  writeFileSync(file, JSON.stringify({ profiles: FIXTURE_PROFILES }));
  return {
    name,
    config,
    proxy,
    cli: ['--config', file, '--data', config.dataDir, '--categories', config.categoriesDir],
  };
}

/** Tries `check` until it holds, at most `tries` times, a short pause between tries (a bound, not a timing). */
export async function until<T>(what: string, check: () => Promise<T | false>, tries = 600): Promise<T> {
  for (let i = 0; i < tries; i++) {
    const got = await check();
    if (got !== false) return got;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`never happened: ${what}`);
}
