/** Options every command takes, and loading the config they name. */
import path from 'node:path';
import { type Command, InvalidArgumentError } from 'commander';
import { reloadIfRunning } from '../app/control.js';
import { checkFileModes } from '../app/file-modes.js';
import { loadConfig, type ConfigOverrides, type ReadonlyConfig } from '../config/load.js';
import { CONFIG_ENV, DEFAULT_CONFIG_PATH, locateConfig, rememberLocation } from '../config/location.js';
import { renderError } from '../errors.js';

export interface CommonOptions {
  config?: string;
  data?: string;
  categories?: string;
  /** Only on the commands that take --certs (serve, ca). */
  certs?: string;
}

export function withCommonOptions(command: Command): Command {
  return command
    .option(
      '--config <file>',
      `configuration file (YAML); default: $${CONFIG_ENV}, else ${DEFAULT_CONFIG_PATH} if it exists, else built-in defaults`,
    )
    .option('--data <dir>', 'state directory: audit and state databases, keys (default: ./data)')
    .option('--categories <dir>', 'category lists directory (default: the shipped categories/)');
}

/**
 * Loads the config the options name (or SCHOOLGATE_CONFIG, or /etc/schoolgate/config.yaml: location.ts) and, unless told not to (serve checks with its logger instead), tightens
 * any data file or folder looser than owner-only, with a warning on stderr naming it (src/app/file-modes.ts).
 */
export function configFrom(
  opts: CommonOptions,
  extra: ConfigOverrides = {},
  { checkModes = true }: { checkModes?: boolean } = {},
): ReadonlyConfig {
  const location = locateConfig(opts.config);
  const config = loadConfig(location.file ?? undefined, {
    ...(opts.data ? { dataDir: opts.data } : {}),
    ...(opts.categories ? { categoriesDir: opts.categories } : {}),
    ...extra,
  });
  if (checkModes)
    checkFileModes(
      { dataDir: config.dataDir, certsDir: path.resolve(opts.certs ?? config.tls.certsDir) },
      { fix: true, warn: (_f, message) => console.error(`warning: ${message}`) },
    );
  return rememberLocation(config, location);
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
