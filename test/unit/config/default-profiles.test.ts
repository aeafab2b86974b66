import { describe, expect, it } from 'vitest';
import { DEFAULT_PROFILES } from '../../../src/config/default-profiles.js';

// The shipped answer per profile for the AI categories, as issue 17 sets them: aichat blocked for
// pupils (and guests, who get the pupils' list), off for staff, warned for leadership.
const EXPECTED: [profile: keyof typeof DEFAULT_PROFILES, category: string, action: string][] = [
  ['pupil', 'aichat', 'block'],
  ['guest', 'aichat', 'block'],
  ['staff', 'aichat', 'allow'],
  ['leadership', 'aichat', 'warn'],
  ['technician', 'aichat', 'warn'],
  ['pupil', 'ai', 'block'],
  ['staff', 'ai', 'allow'],
  ['pupil', 'extremism', 'block'],
  ['staff', 'extremism', 'block'],
  ['leadership', 'selfharm', 'block'],
];

describe('shipped profiles', () => {
  it.each(EXPECTED)('%s: %s is %s', (profile, category, action) => {
    const categories = DEFAULT_PROFILES[profile].categories as Record<string, string>;
    expect(categories[category]).toBe(action);
  });
});
