import { describe, expect, it } from 'vitest';
import { checkSelfReport, referenceOf, sameSite, type Referent } from '../../../src/reports/references.js';

const T = Date.UTC(2026, 10, 4, 11, 0);
const report = { timeMs: T + 60_000, user: 'pupil1', clientIp: '10.0.0.12', host: 'bet.test' };
const block: Referent = {
  id: 'b',
  timeMs: T,
  user: 'pupil1',
  clientIp: '10.0.0.12',
  host: 'bet.test',
  action: 'block',
  categories: ['gambling'],
};

describe('a self-report checked against the block it names', () => {
  it.each<[string, Referent | null, boolean, string]>([
    ['the block it names', block, false, 'matches the block of bet.test at 2026-11-04 11:00:00'],
    [
      'a block of a subdomain',
      { ...block, host: 'www.bet.test' },
      false,
      'matches the block of www.bet.test',
    ],
    [
      'an invented reference, a site never blocked',
      null,
      false,
      'UNMATCHED: no block with this reference; bet.test was never blocked for this person',
    ],
    [
      'an invented reference, a site blocked another time',
      null,
      true,
      'UNMATCHED: no block with this reference; bet.test was blocked for this person at another time',
    ],
    [
      'someone else’s block',
      { ...block, user: 'pupil2' },
      false,
      'UNMATCHED: the reference is another person’s page',
    ],
    [
      'a page that was allowed',
      { ...block, action: 'allow' },
      false,
      'UNMATCHED: the reference is a allow row, not a block',
    ],
    [
      'a block of another site',
      { ...block, host: 'adult.test' },
      false,
      'UNMATCHED: the reference is a block of another site (adult.test)',
    ],
    [
      'a block after the report',
      { ...block, timeMs: T + 120_000 },
      false,
      'UNMATCHED: reported before the block',
    ],
  ])('%s', (_, ref, blockedThere, text) => {
    const check = checkSelfReport(report, ref, () => blockedThere, 'Europe/London');
    expect(check.text.startsWith(text)).toBe(true);
    expect(check.matched).toBe(text.startsWith('matches'));
  });

  it('matches a guest by address when neither row has a user', () => {
    const guest = { ...report, user: null };
    expect(checkSelfReport(guest, { ...block, user: null }, () => false, 'UTC').matched).toBe(true);
    expect(
      checkSelfReport(guest, { ...block, user: null, clientIp: '10.0.0.99' }, () => false, 'UTC').matched,
    ).toBe(false);
  });
});

describe('references of Continue and self-report rows', () => {
  it.each([
    ['continue', 'continue:0b6f2a52-1c54-4c1a-9a59-6a0e8cbd9d41', '0b6f2a52-1c54-4c1a-9a59-6a0e8cbd9d41'],
    ['self-report', 'self-report:abc', 'abc'],
    ['continue', 'continue:', null],
    ['block', 'self-report:abc', null],
    ['self-report', 'continue:abc', null],
  ])('%s %s → %s', (action, reason, id) => expect(referenceOf(action, reason)).toBe(id));

  it.each([
    ['bet.test', 'bet.test', true],
    ['www.bet.test', 'bet.test', true],
    ['bet.test', 'www.bet.test', true],
    ['notbet.test', 'bet.test', false],
  ])('%s and %s the same site: %s', (a, b, same) => expect(sameSite(a, b)).toBe(same));
});
