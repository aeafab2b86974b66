import { describe, expect, it } from 'vitest';
import {
  AddressMap,
  canonicalAddress,
  cidrMatcher,
  inAnyCidr,
  parseCidrs,
} from '../../../src/identity/address-map.js';

const map = new AddressMap(
  [{ address: '10.1.2.3', name: 'staff-laptop-7', user: 'j.smith' }],
  [
    { cidr: '10.0.0.0/8', profile: 'guest' },
    { cidr: '10.10.0.0/16', profile: 'pupil', name: 'student VLAN' },
    { cidr: '10.20.0.0/16', profile: 'staff' },
    { cidr: 'fd00:10::/32', profile: 'pupil' },
  ],
);

describe('address → network profile (longest prefix wins)', () => {
  it.each([
    ['10.10.4.5', 'pupil'],
    ['10.20.0.1', 'staff'],
    ['10.99.0.1', 'guest'],
    ['::ffff:10.10.4.5', 'pupil'], // how a dual-stack socket reports an IPv4 peer
    ['fd00:10::1', 'pupil'],
    ['192.168.1.1', undefined],
    ['not-an-ip', undefined],
  ])('%s → %s', (address, profile) => {
    expect(map.network(address)?.profile).toBe(profile);
  });
});

describe('address → device', () => {
  it.each([
    ['10.1.2.3', 'staff-laptop-7'],
    ['::ffff:10.1.2.3', 'staff-laptop-7'],
    ['10.1.2.4', undefined],
  ])('%s → %s', (address, device) => {
    expect(map.device(address)?.name).toBe(device);
  });
});

describe('client networks', () => {
  const cidrs = parseCidrs(['127.0.0.0/8', '::1/128', '192.168.0.0/16']);
  it.each([
    ['127.0.0.1', true],
    ['::1', true],
    ['::ffff:192.168.3.4', true],
    ['8.8.8.8', false],
    ['2001:db8::1', false],
    ['', false],
  ])('%s allowed: %s', (address, allowed) => {
    expect(inAnyCidr(address, cidrs)).toBe(allowed);
  });

  it('the remembering matcher answers as inAnyCidr, asked once or again, past its memory', () => {
    const list = ['127.0.0.0/8', '::1/128', '192.168.0.0/16'];
    const matcher = cidrMatcher(list);
    const addresses = ['127.0.0.1', '::1', '::ffff:192.168.3.4', '8.8.8.8', '2001:db8::1', '', 'garbage'];
    for (let i = 0; i < 5000; i++)
      addresses.push(`192.168.${(i >> 8) & 255}.${i & 255}`, `10.0.${i >> 8}.${i & 255}`);
    for (const round of [1, 2])
      for (const address of addresses)
        expect([round, address, matcher(address)]).toEqual([round, address, inAnyCidr(address, cidrs)]);
  });

  it('canonicalises IPv4-mapped addresses', () => {
    expect(canonicalAddress('::ffff:127.0.0.1')).toBe('127.0.0.1');
    expect(canonicalAddress('garbage')).toBe('garbage');
  });
});
