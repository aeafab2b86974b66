import { describe, expect, it } from 'vitest';
import { Sessions } from '../../../src/console/sessions.js';

const MIN = 60_000;

describe('console sessions', () => {
  const make = () => {
    const clock = { t: 1_000_000 };
    return { clock, sessions: new Sessions({ idleMs: 15 * MIN, absoluteMs: 60 * MIN }, () => clock.t) };
  };

  it.each([
    ['used just before the idle limit', [14], true],
    ['idle for the whole idle limit', [15], false],
    ['kept busy, but past the absolute limit', [10, 10, 10, 10, 10, 10], false],
    ['kept busy within the absolute limit', [10, 10, 10, 10, 10], true],
  ] as const)('%s', (_name, steps, alive) => {
    const { clock, sessions } = make();
    const s = sessions.create('a.head', 'headteacher');
    let last = sessions.get(s.id);
    for (const minutes of steps) {
      clock.t += minutes * MIN;
      last = sessions.get(s.id);
    }
    expect(last !== null).toBe(alive);
  });

  it('gives each session its own unguessable id and forgets an ended one', () => {
    const { sessions } = make();
    const a = sessions.create('a', 'dsl');
    const b = sessions.create('b', 'dsl');
    expect(a.id).not.toBe(b.id);
    expect(Buffer.from(a.id, 'base64url').length).toBe(32);
    sessions.end(a.id);
    expect(sessions.get(a.id)).toBeNull();
    expect(sessions.get(b.id)?.name).toBe('b');
    expect(sessions.get(undefined)).toBeNull();
  });
});
