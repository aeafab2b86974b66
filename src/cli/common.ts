/** Options every command takes, and loading the config they name. */
import { type Command, InvalidArgumentError } from 'commander';
import { loadConfig, type ConfigOverrides, type ReadonlyConfig } from '../config/load.js';

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
