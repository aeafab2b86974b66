import { describe, expect, it } from 'vitest';
import { DEFAULT_THROTTLE, LoginThrottle, Semaphore } from '../../../src/identity/throttle.js';

function throttle(settings = {}) {
  const clock = { now: 0 };
  const events: { key: string; failures: number; until: number }[] = [];
  const t = new LoginThrottle(
    { ...DEFAULT_THROTTLE, ...settings },
    () => clock.now,
    (e) => events.push(e),
  );
  return { t, clock, events };
}

describe('LoginThrottle', () => {
  it('backs off exponentially after the threshold, up to the cap', () => {
    const { t, clock, events } = throttle({ threshold: 3, baseMs: 1_000, maxMs: 5_000 });
    const keys = ['ip:10.0.0.1'];
    t.fail(keys);
    t.fail(keys);
    expect(t.blocked(keys)).toBeNull();
    t.fail(keys);
    expect(t.blocked(keys)).toEqual({ key: 'ip:10.0.0.1', retryAfterMs: 1_000 });
    clock.now += 1_000;
    expect(t.blocked(keys)).toBeNull();
    t.fail(keys);
    expect(t.blocked(keys)?.retryAfterMs).toBe(2_000);
    clock.now += 2_000;
    t.fail(keys);
    clock.now += 4_000;
    t.fail(keys);
    expect(t.blocked(keys)?.retryAfterMs).toBe(5_000);
    expect(events.map((e) => e.failures)).toEqual([3, 4, 5, 6]);
    expect(t.blockedKeys()).toBe(1);
  });

  it('a success clears a key; other keys are independent', () => {
    const { t } = throttle({ threshold: 1 });
    t.fail(['user:a']);
    expect(t.blocked(['user:b', 'ip:x'])).toBeNull();
    expect(t.blocked(['user:b', 'user:a'])?.key).toBe('user:a');
    t.succeed('user:a');
    expect(t.blocked(['user:a'])).toBeNull();
  });

  it('admits at most threshold − failures at once; the rest wait and are checked again', async () => {
    const { t } = throttle({ threshold: 2 });
    const first = await t.admit(['k']);
    const second = await t.admit(['k']);
    if (!('release' in first) || !('release' in second)) throw new Error('not admitted');
    const third = t.admit(['k']);
    t.fail(['k']);
    first.release();
    t.fail(['k']);
    second.release();
    expect(await third).toMatchObject({ blocked: { key: 'k' } });
  });

  it('refuses past maxWaitingPerKey instead of queueing without bound', async () => {
    const { t } = throttle({ threshold: 1, maxWaitingPerKey: 1 });
    await t.admit(['k']);
    void t.admit(['k']);
    expect(await t.admit(['k'])).toMatchObject({ blocked: { key: 'k' } });
  });
});

describe('Semaphore', () => {
  it('caps concurrency and refuses when the queue is full', async () => {
    const s = new Semaphore(1, 1);
    const a = await s.acquire();
    const b = s.acquire();
    expect(await s.acquire()).toBeNull();
    expect(s.waiting).toBe(1);
    a!();
    a!(); // a second release is ignored
    const release = await b;
    expect(release).toBeTypeOf('function');
    expect(s.waiting).toBe(0);
  });
});
