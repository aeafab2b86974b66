/**
 * Fuzzing the config loader (src/config/load.ts): a file that is not a good config is refused with
 * SG_CONFIG_UNREADABLE or SG_CONFIG_INVALID naming the field, never a crash.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig, validateConfig } from '../../src/config/load.js';
import { configSchema } from '../../src/config/schema.js';
import { isSchoolgateError } from '../../src/errors.js';
import { trickyText } from './arbitraries.js';
import { FUZZ_TIMEOUT, fuzzParams, outcome } from './fuzz.js';

const dir = mkdtempSync(path.join(tmpdir(), 'sg-fuzz-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const file = path.join(dir, 'schoolgate.yaml');

// YAML-ish text: the schema's own keys and values, YAML's structure and its sharper features
// (anchors, aliases, tags, merge keys, directives, flow collections), in any order.
const KEYS = [
  'listen',
  'port',
  'host',
  'identity',
  'networks',
  'cidr',
  'profile',
  'profiles',
  'guest',
  'default',
  'categories',
  'timeZone',
  'hosts',
  'tls',
  'inspect',
  'limits',
  'warn',
  'lists',
  'clientNetworks',
  'devices',
  'address',
  'timeWindows',
  'days',
  'from',
  'to',
];
const VALUES = [
  '3128',
  '0',
  '-1',
  '1e400',
  '.nan',
  '0x10',
  'true',
  'no',
  '~',
  'null',
  '[]',
  '{}',
  '"x"',
  "'y'",
  'block',
  '10.0.0.0/8',
  '::1/128',
  'Europe/London',
  'mon',
  '09:00',
  '25:99',
  '2001-12-14',
];
const SYNTAX = [
  '\n',
  '\n  ',
  '\n    ',
  ': ',
  '- ',
  '? ',
  ',',
  '[',
  ']',
  '{',
  '}',
  '&a ',
  '*a',
  '&b ',
  '*b',
  '!!str ',
  '!!binary ',
  '!!set ',
  '!foo ',
  '<<: ',
  '---\n',
  '...\n',
  '%YAML 1.2\n',
  '#c',
  '|',
  '>',
  '"',
  "'",
  '\t',
];
const yamlish = fc.oneof(
  fc
    .array(fc.oneof(fc.constantFrom(...KEYS), fc.constantFrom(...VALUES), fc.constantFrom(...SYNTAX)), {
      maxLength: 40,
    })
    .map((t) => t.join('')),
  trickyText(80),
);

/** Every path to a leaf of the default config (arrays by index), with its value. */
function leaves(value: unknown, at: (string | number)[] = []): { at: (string | number)[]; value: unknown }[] {
  if (Array.isArray(value)) return value.flatMap((v, i) => leaves(v, [...at, i]));
  if (value !== null && typeof value === 'object')
    return Object.entries(value).flatMap(([k, v]) => leaves(v, [...at, k]));
  return [{ at, value }];
}
const DEFAULT_LEAVES = leaves(configSchema.parse({})).filter((l) => l.value !== null);

function withLeaf(at: (string | number)[], value: unknown): Record<string, unknown> {
  const config = structuredClone(configSchema.parse({})) as Record<string, unknown>;
  let node: Record<string | number, unknown> = config;
  for (const key of at.slice(0, -1)) node = node[key] as Record<string | number, unknown>;
  node[at.at(-1)!] = value;
  return config;
}

describe('the config loader under fuzzing', () => {
  it(
    'loads a YAML-ish file or refuses it with SG_CONFIG_UNREADABLE / SG_CONFIG_INVALID naming a field',
    () => {
      fc.assert(
        fc.property(yamlish, (text) => {
          writeFileSync(file, text);
          const r = outcome(() => loadConfig(file));
          if (r.ok) {
            expect(Object.isFrozen(r.value)).toBe(true);
            return;
          }
          expect(isSchoolgateError(r.error), String(r.error)).toBe(true);
          if (!isSchoolgateError(r.error)) return;
          expect(['SG_CONFIG_UNREADABLE', 'SG_CONFIG_INVALID']).toContain(r.error.code);
          expect(r.error.context.file).toBe(file);
          if (r.error.code === 'SG_CONFIG_INVALID') expect(typeof r.error.context.field).toBe('string');
        }),
        fuzzParams(400),
      );
    },
    FUZZ_TIMEOUT,
  );

  it(
    'names the field of a value of the wrong type, wherever it is',
    () => {
      const wrong = fc.oneof(
        fc.string({ maxLength: 5 }),
        fc.double(),
        fc.boolean(),
        fc.constant({}),
        fc.constant([]),
      );
      fc.assert(
        fc.property(fc.constantFrom(...DEFAULT_LEAVES), wrong, ({ at, value }, bad) => {
          fc.pre(typeof bad !== typeof value && !(Array.isArray(bad) && Array.isArray(value)));
          const r = outcome(() => validateConfig(withLeaf(at, bad)));
          expect(r.ok).toBe(false);
          if (r.ok) return;
          expect(isSchoolgateError(r.error) && r.error.code, String(r.error)).toBe('SG_CONFIG_INVALID');
          expect(isSchoolgateError(r.error) && r.error.context.field).toBe(at.join('.'));
        }),
        fuzzParams(600),
      );
    },
    FUZZ_TIMEOUT,
  );

  it(
    'names the field of a CIDR, address or time zone it cannot read, or accepts it',
    () => {
      const text = fc.oneof(
        trickyText(20),
        fc.constantFrom('10.0.0.0/8', '::1/128', '10.0.0.0/33', '1.2.3.4', 'Europe/London', 'Mars/Olympus'),
      );
      const where = fc.constantFrom(
        'clientNetworks.0',
        'identity.networks.0.cidr',
        'identity.devices.0.address',
        'timeZone',
      );
      fc.assert(
        fc.property(where, text, (field, value) => {
          const raw: Record<string, unknown> =
            field === 'clientNetworks.0'
              ? { clientNetworks: [value] }
              : field === 'timeZone'
                ? { timeZone: value }
                : field.startsWith('identity.networks')
                  ? { identity: { networks: [{ cidr: value, profile: 'guest' }] } }
                  : { identity: { devices: [{ address: value, name: 'd' }] } };
          const r = outcome(() => validateConfig(raw));
          if (r.ok) return;
          expect(isSchoolgateError(r.error) && r.error.code, String(r.error)).toBe('SG_CONFIG_INVALID');
          expect(isSchoolgateError(r.error) && r.error.context.field).toBe(field);
        }),
        fuzzParams(400),
      );
    },
    FUZZ_TIMEOUT,
  );
});
