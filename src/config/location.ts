/**
 * Which configuration file a command uses, so a technician need not pass `--config` to every command
 * (Squid reads /etc/squid/squid.conf): `--config`, else the SCHOOLGATE_CONFIG environment variable, else
 * /etc/schoolgate/config.yaml when it exists, else the embedded defaults. Pure: the environment and the
 * existence check are passed in, so the order is table-tested without touching /etc.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';

export const CONFIG_ENV = 'SCHOOLGATE_CONFIG';
export const DEFAULT_CONFIG_PATH = '/etc/schoolgate/config.yaml';

export type ConfigSource = 'option' | 'env' | 'default-path' | 'built-in';

export interface ConfigLocation {
  /** The file (absolute), or null for the embedded defaults. */
  file: string | null;
  source: ConfigSource;
}

export function locateConfig(
  option: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
  exists: (file: string) => boolean = existsSync,
): ConfigLocation {
  if (option) return { file: path.resolve(option), source: 'option' };
  // An empty variable is an unset one (as shells and systemd's Environment= leave it).
  const fromEnv = env[CONFIG_ENV];
  if (fromEnv) return { file: path.resolve(fromEnv), source: 'env' };
  if (exists(DEFAULT_CONFIG_PATH)) return { file: DEFAULT_CONFIG_PATH, source: 'default-path' };
  return { file: null, source: 'built-in' };
}

/** One line for people: "the file (why this one)" or the embedded defaults. */
export function describeLocation(location: ConfigLocation): string {
  switch (location.source) {
    case 'option':
      return `${location.file} (--config)`;
    case 'env':
      return `${location.file} (${CONFIG_ENV})`;
    case 'default-path':
      return `${location.file} (the default location)`;
    case 'built-in':
      return `built-in defaults (no --config, ${CONFIG_ENV} unset, no ${DEFAULT_CONFIG_PATH})`;
  }
}

/** Where each loaded config came from, for `status`, `serve` and `config show` to say. */
const locations = new WeakMap<object, ConfigLocation>();

export function rememberLocation<T extends object>(config: T, location: ConfigLocation): T {
  locations.set(config, location);
  return config;
}

/** A config loaded without the CLI (tests, scripts) reads as the embedded defaults' location. */
export function locationOf(config: object): ConfigLocation {
  return locations.get(config) ?? { file: null, source: 'built-in' };
}
