/**
 * Loads, validates and freezes the configuration. Errors name the field (and the line, for a file).
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { LineCounter, parseDocument, isNode } from 'yaml';
import ipaddr from 'ipaddr.js';
import type { z } from 'zod';
import { SchoolgateError } from '../errors.js';
import { DEFAULT_PROFILES } from './default-profiles.js';
import { configLayer, type ProfileOrigins } from './profile-layers.js';
import { configSchema, profileSchema, profilesLayerSchema, type Config } from './schema.js';

/** The package root (where package.json is): the shipped categories live there, from src/ or dist/src/. */
export const PACKAGE_ROOT = findPackageRoot(path.dirname(fileURLToPath(import.meta.url)));
const SHIPPED_CATEGORIES = path.join(PACKAGE_ROOT, 'categories');

function findPackageRoot(dir: string): string {
  for (let d = dir; ; d = path.dirname(d)) {
    if (existsSync(path.join(d, 'package.json'))) return d;
    if (path.dirname(d) === d) return process.cwd();
  }
}

export interface ConfigOverrides {
  dataDir?: string;
  categoriesDir?: string;
  port?: number;
  host?: string;
  hostsFile?: string;
}

/**
 * `profileOrigins`: which layer (shipped or config) gave each profile key, for errors and `profiles show`.
 * Not enumerable, so it is no setting: reload's comparison and JSON output never see it.
 */
export type ReadonlyConfig = Readonly<Config> & { readonly profileOrigins?: ProfileOrigins };

/** Reads a YAML config file (or none: the embedded defaults) and applies command-line overrides. */
export function loadConfig(file: string | undefined, overrides: ConfigOverrides = {}): ReadonlyConfig {
  let raw: unknown = {};
  let lineOf: (p: PropertyKey[]) => number | undefined = () => undefined;
  const baseDir = file ? path.dirname(path.resolve(file)) : process.cwd();
  if (file) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new SchoolgateError('SG_CONFIG_UNREADABLE', `cannot read config file ${file}`, {
        context: { file },
        suggestion: 'check the path given to --config (or SCHOOLGATE_CONFIG) and that the file is readable',
        cause: err,
      });
    }
    const lines = new LineCounter();
    const doc = parseDocument(text, { lineCounter: lines, prettyErrors: true });
    if (doc.errors.length > 0) {
      const first = doc.errors[0]!;
      throw new SchoolgateError('SG_CONFIG_UNREADABLE', `${file}: not valid YAML: ${first.message}`, {
        context: { file, line: first.linePos?.[0]?.line },
        suggestion: 'fix the YAML syntax at the line shown',
      });
    }
    try {
      raw = doc.toJS() ?? {};
    } catch (err) {
      // The parser reports syntax; building the value finds the rest (an alias to no anchor, an alias
      // bomb past the library's maxAliasCount): still a file that cannot be read, never a crash.
      throw new SchoolgateError(
        'SG_CONFIG_UNREADABLE',
        `${file}: not valid YAML: ${(err as Error).message}`,
        {
          context: { file },
          suggestion: 'fix the anchors (&name) and aliases (*name) in the file',
          cause: err,
        },
      );
    }
    lineOf = (p) => {
      const node = doc.getIn(p as unknown[], true);
      return isNode(node) && node.range ? lines.linePos(node.range[0]).line : undefined;
    };
  }
  return validateConfig(raw, { file, lineOf, baseDir, overrides });
}

interface ValidateOptions {
  file?: string | undefined;
  lineOf?: (p: PropertyKey[]) => number | undefined;
  baseDir?: string;
  overrides?: ConfigOverrides;
}

/** Validates a config object (from YAML or a test), resolves paths, checks cross-references, freezes. */
export function validateConfig(raw: unknown, opts: ValidateOptions = {}): ReadonlyConfig {
  const where = opts.file ?? 'config';
  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) throw configError(where, parsed.error.issues[0]!, opts.lineOf);
  const config = parsed.data;
  const o = opts.overrides ?? {};
  const baseDir = opts.baseDir ?? process.cwd();
  if (o.port !== undefined) config.listen.port = o.port;
  if (o.host !== undefined) config.listen.host = o.host;
  if (o.hostsFile !== undefined) config.hostsFile = o.hostsFile;
  config.dataDir = path.resolve(o.dataDir ?? path.resolve(baseDir, config.dataDir));
  const categoriesGiven =
    o.categoriesDir ?? (isDefault(raw, 'categoriesDir') ? undefined : config.categoriesDir);
  config.categoriesDir = categoriesGiven ? path.resolve(baseDir, categoriesGiven) : SHIPPED_CATEGORIES;
  if (config.hostsFile) config.hostsFile = path.resolve(baseDir, config.hostsFile);
  config.tls.certsDir = path.resolve(baseDir, config.tls.certsDir);
  if (config.illegalContent.dir !== null)
    config.illegalContent.dir = path.resolve(baseDir, config.illegalContent.dir);
  if (config.accessLog.path) config.accessLog.path = path.resolve(baseDir, config.accessLog.path);
  if (config.branding.logoFile) config.branding.logoFile = path.resolve(baseDir, config.branding.logoFile);
  checkReferences(config, where, opts.lineOf, raw);
  const layer = profilesLayerSchema.parse(
    isDefault(raw, 'profiles') ? {} : (raw as { profiles: unknown }).profiles,
  );
  const origins = configLayer(DEFAULT_PROFILES, layer, profileSchema.parse({})).origins;
  Object.defineProperty(config, 'profileOrigins', { value: deepFreeze(origins), enumerable: false });
  return deepFreeze(config);
}

function isDefault(raw: unknown, key: string): boolean {
  return typeof raw !== 'object' || raw === null || !(key in raw);
}

function configError(
  where: string,
  issue: z.core.$ZodIssue,
  lineOf?: (p: PropertyKey[]) => number | undefined,
): SchoolgateError {
  let field = issue.path.map(String).join('.');
  let message = issue.message;
  if (issue.code === 'unrecognized_keys') {
    const key = issue.keys[0]!;
    field = [...issue.path.map(String), key].join('.');
    message = `unknown key "${key}"`;
  }
  const line = lineOf?.(field ? field.split('.') : []);
  const at = line ? ` (line ${line})` : '';
  return new SchoolgateError('SG_CONFIG_INVALID', `${where}: ${field || '(top level)'}${at}: ${message}`, {
    context: { file: where, field, line },
    suggestion: 'fix the value of that field; `schoolgate config check` validates without starting',
  });
}

function fieldError(
  where: string,
  field: string,
  message: string,
  lineOf?: (p: PropertyKey[]) => number | undefined,
) {
  const line = lineOf?.(field.split('.'));
  const at = line ? ` (line ${line})` : '';
  return new SchoolgateError('SG_CONFIG_INVALID', `${where}: ${field}${at}: ${message}`, {
    context: { file: where, field, line },
    suggestion: 'fix the value of that field; `schoolgate config check` validates without starting',
  });
}

function checkReferences(
  config: Config,
  where: string,
  lineOf: ((p: PropertyKey[]) => number | undefined) | undefined,
  raw: unknown,
): void {
  const profiles = new Set(Object.keys(config.profiles));
  const replaced = (raw as { profiles?: { replace?: unknown } } | undefined)?.profiles?.replace === true;
  const needProfile = (field: string, name: string) => {
    if (!profiles.has(name))
      throw fieldError(
        where,
        field,
        `no profile named "${name}" (profiles: ${[...profiles].join(', ')})`,
        lineOf,
      );
  };
  if (!profiles.has(config.identity.guestProfile))
    throw fieldError(
      where,
      'identity.guestProfile',
      `no profile named "${config.identity.guestProfile}" (profiles: ${[...profiles].join(', ')})` +
        (replaced
          ? '; profiles.replace is true, so the shipped guest profile is dropped: define a guest profile or name another here'
          : ''),
      lineOf,
    );
  config.identity.networks.forEach((n, i) => {
    needProfile(`identity.networks.${i}.profile`, n.profile);
    if (!isCidr(n.cidr))
      throw fieldError(where, `identity.networks.${i}.cidr`, `"${n.cidr}" is not a CIDR`, lineOf);
  });
  config.identity.devices.forEach((d, i) => {
    if (d.profile) needProfile(`identity.devices.${i}.profile`, d.profile);
    if (!ipaddr.isValid(d.address))
      throw fieldError(where, `identity.devices.${i}.address`, `"${d.address}" is not an IP address`, lineOf);
  });
  for (const [group, profile] of Object.entries(config.identity.importMap))
    needProfile(`identity.importMap.${group}`, profile);
  const ldap = config.identity.ldap;
  if (ldap) {
    for (const [dn, profile] of Object.entries(ldap.groups))
      needProfile(`identity.ldap.groups.${dn}`, profile);
    if (ldap.defaultProfile) needProfile('identity.ldap.defaultProfile', ldap.defaultProfile);
    if (!config.identity.basicAuth)
      throw fieldError(where, 'identity.ldap', 'directory sign-in needs identity.basicAuth: true', lineOf);
  }
  config.clientNetworks.forEach((c, i) => {
    if (!isCidr(c)) throw fieldError(where, `clientNetworks.${i}`, `"${c}" is not a CIDR`, lineOf);
  });
  for (const [name, address] of Object.entries(config.hosts)) {
    if (!ipaddr.isValid(address))
      throw fieldError(where, `hosts.${name}`, `"${address}" is not an IP address`, lineOf);
  }
  try {
    new Intl.DateTimeFormat('en-GB', { timeZone: config.timeZone });
  } catch {
    throw fieldError(where, 'timeZone', `"${config.timeZone}" is not an IANA time zone`, lineOf);
  }
}

export function isCidr(value: string): boolean {
  try {
    ipaddr.parseCIDR(value);
    return true;
  } catch {
    return false;
  }
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}
