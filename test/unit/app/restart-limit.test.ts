import { describe, expect, it } from 'vitest';
import { RestartLimit, WORKER_RESTART_LIMIT } from '../../../src/app/cluster/restart-limit.js';

function limitAt(start = 1_000_000) {
  const clock = { t: start };
  const limit = new RestartLimit({ ...WORKER_RESTART_LIMIT, now: () => clock.t });
  return { clock, limit };
}

describe('RestartLimit (more than 5 worker deaths in 60 s: give up)', () => {
  it('tolerates five deaths within the window and gives up at the sixth', () => {
    const { clock, limit } = limitAt();
    for (let i = 0; i < 5; i++) {
      expect(limit.died()).toBe(false);
      clock.t += 1_000;
    }
    expect(limit.recent).toBe(5);
    expect(limit.died()).toBe(true);
  });

  it('forgets deaths older than the window: a death every 12 s for ever is not a crash loop', () => {
    const { clock, limit } = limitAt();
    for (let i = 0; i < 50; i++) {
      expect(limit.died()).toBe(false);
      clock.t += 12_000;
    }
  });

  it('counts a death exactly one window old as gone, one just inside as recent', () => {
    const { clock, limit } = limitAt();
    for (let i = 0; i < 5; i++) limit.died();
    clock.t += 60_000;
    expect(limit.recent).toBe(0);
    expect(limit.died()).toBe(false);
    const inside = limitAt();
    for (let i = 0; i < 5; i++) inside.limit.died();
    inside.clock.t += 59_999;
    expect(inside.limit.died()).toBe(true);
  });
});
