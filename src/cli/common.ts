/** Options every command takes, and loading the config they name. */
import { type Command, InvalidArgumentError } from 'commander';
import { reloadIfRunning } from '../app/control.js';
import { loadConfig, type ConfigOverrides, type ReadonlyConfig } from '../config/load.js';
import { renderError } from '../errors.js';

export interface CommonOptions {
  config?: string;
  data?: string;
  categories?: string;
}

export function withCommonOptions(command: Command): Command {
  return command
    .option('--config <file>', 'configuration file (YAML); defaults are built in')
    .option('--data <dir>', 'state directory: audit and state databases, keys (default: ./data)')
    .option('--categories <dir>', 'category lists directory (default: the shipped categories/)');
}

export function configFrom(opts: CommonOptions, extra: ConfigOverrides = {}): ReadonlyConfig {
  return loadConfig(opts.config, {
    ...(opts.data ? { dataDir: opts.data } : {}),
    ...(opts.categories ? { categoriesDir: opts.categories } : {}),
    ...extra,
  });
}

export function parsePort(value: string): number {
  const port = Number(value);
  if (!/^\d+$/.test(value) || port < 0 || port > 65535)
    throw new InvalidArgumentError('expected a port 0–65535');
  return port;
}

export function positiveInt(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < 1) throw new InvalidArgumentError('expected a positive whole number');
  return n;
}

/** `--by` and `--reason`: who asked for a change and why, for the admin-changes record. */
export interface ChangeOptions {
  by?: string;
  reason?: string;
}

export function withChangeOptions(command: Command): Command {
  return command
    .option('--reason <text>', 'why (kept in the admin-changes record; DfE asks schools to document it)')
    .option('--by <name>', 'who asked for the change, when not the person logged in');
}

/** After a change the proxy must see: reload it when running, and say what happened. */
export async function reloadAfterChange(dataDir: string, json = false): Promise<Record<string, unknown>> {
  const outcome = await reloadIfRunning(dataDir);
  if (!outcome.running) {
    if (!json) console.log('proxy not running here: the change takes effect when it starts');
    return { reloaded: false, running: false };
  }
  if (outcome.error) {
    if (!json) console.error(renderError(outcome.error));
    process.exitCode = 1;
    return { reloaded: false, running: true, error: outcome.error.toJSON() };
  }
  const r = outcome.result as { ms?: number } | undefined;
  if (!json) console.log(`running proxy reloaded (${r?.ms ?? '?'} ms)`);
  return { reloaded: true, running: true, reload: outcome.result };
}
