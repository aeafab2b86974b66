import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { validateConfig } from '../../../src/config/load.js';
import type { ConfigInput } from '../../../src/config/schema.js';
import { consoleNetworks, networkMatcher } from '../../../src/console/networks.js';

const config = (input: Partial<ConfigInput>) =>
  validateConfig(input, { baseDir: path.resolve('.'), overrides: {} });

describe('who may reach the console', () => {
  it('defaults to admin.networks plus the networks mapped to staff-like profiles, never pupils or guests', () => {
    const c = config({
      identity: {
        networks: [
          { cidr: '10.1.0.0/16', profile: 'pupil' },
          { cidr: '10.2.0.0/16', profile: 'staff' },
          { cidr: '10.3.0.0/24', profile: 'technician' },
          { cidr: '10.4.0.0/16', profile: 'guest' },
        ],
      },
    });
    expect(consoleNetworks(c)).toEqual(['127.0.0.0/8', '::1/128', '10.2.0.0/16', '10.3.0.0/24']);
  });

  it('uses console.networks as given when set', () => {
    expect(consoleNetworks(config({ console: { networks: ['192.168.5.0/24'] } }))).toEqual([
      '192.168.5.0/24',
    ]);
  });

  it.each([
    ['127.0.0.1', true],
    ['::1', true],
    ['::ffff:10.2.3.4', true],
    ['10.2.3.4', true],
    ['10.1.3.4', false],
    ['10.20.3.4', false],
    ['fe80::1', false],
    ['', false],
    ['not-an-address', false],
  ])('%s → %s', (ip, allowed) => {
    expect(networkMatcher(['127.0.0.0/8', '::1/128', '10.2.0.0/16'])(ip)).toBe(allowed);
  });
});
