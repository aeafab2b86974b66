/** A request's site: the user's over the device's over the network's; site names checked. */
import { describe, expect, it } from 'vitest';
import { checkSiteName, resolveSite } from '../../../src/identity/site.js';

describe('resolveSite', () => {
  it.each([
    ['nothing matched', {}, null],
    ['a network only', { network: { site: 'north' } }, 'north'],
    ['a device only', { device: { site: 'south' } }, 'south'],
    ['a user only', { user: { site: 'east' } }, 'east'],
    ['device over network', { device: { site: 'south' }, network: { site: 'north' } }, 'south'],
    ['user over device', { user: { site: 'east' }, device: { site: 'south' } }, 'east'],
    [
      'user over device over network',
      { user: { site: 'east' }, device: { site: 'south' }, network: { site: 'north' } },
      'east',
    ],
    [
      'a user without a site falls to the device',
      { user: { site: null }, device: { site: 'south' } },
      'south',
    ],
    [
      'user and device without sites fall to the network',
      { user: { site: null }, device: {}, network: { site: 'north' } },
      'north',
    ],
    ['matched, none with a site', { user: { site: null }, device: {}, network: {} }, null],
  ] as const)('%s', (_, from, want) => {
    expect(resolveSite(from)).toBe(want);
  });
});

describe('checkSiteName', () => {
  it.each(['north', 'st-marys', 'a', '0', 'x'.repeat(32)])('takes %j', (name) => {
    expect(checkSiteName(name)).toBe(name);
  });
  it.each(['', 'North', 'st marys', 'a/b', 'x'.repeat(33), 'nörth', 'north\n'])('refuses %j', (name) => {
    expect(() => checkSiteName(name)).toThrow(/SG_ARGUMENT_INVALID|not a site name/);
  });
});
