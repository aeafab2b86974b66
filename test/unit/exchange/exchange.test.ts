/** The Exchange itself: one snapshot per exchange, fail-closed checks, and events that cannot touch a request. */
import { afterEach, describe, expect, it } from 'vitest';
import { loadPolicy } from '../../../src/app/start.js';
import { runHttp, type PolicySnapshot } from '../../../src/exchange/index.js';
import type { CategoryLists } from '../../../src/policy/types.js';
import { formatTime } from '../../../src/proxy/pages/html.js';
import { testConfig } from '../../helpers/schoolgate.js';
import {
  closeHarnesses,
  connect,
  exchange,
  fakeHttpIo,
  harness,
  head,
  http,
  NETWORKS,
  openTunnel,
  PUPIL,
  STAFF,
  summary,
  tick,
  upgrade,
  type Harness,
} from './playbook.js';

afterEach(closeHarnesses);

function throwingLists(real: CategoryLists, message: string): CategoryLists {
  return {
    categories: real.categories,
    endpoints: real.endpoints,
    match: () => {
      throw new Error(message);
    },
  };
}

describe('one snapshot per exchange', () => {
  it('decides with the snapshot taken when the exchange was created, not the one swapped in before it ran', async () => {
    const loadedB = await loadPolicy(
      testConfig({
        identity: NETWORKS,
        timeZone: 'Asia/Tokyo',
        profiles: { replace: true, pupil: { categories: {} }, staff: {}, guest: {} },
      }),
    );
    const b: PolicySnapshot = { config: loadedB.config, lists: loadedB.lists, profiles: loadedB.profiles };
    let current: PolicySnapshot | undefined;
    const h = await harness({
      policy: (a) => {
        current = a;
        return () => current!;
      },
    });
    const a = h.snapshot;
    expect(a.config.timeZone).toBe('Europe/London');

    const ex = exchange(h, 'http', PUPIL);
    current = b; // a reload lands between the exchange's start and its run
    const { io } = fakeHttpIo();
    const step = await runHttp(ex, head('http://social.test/'), io);

    expect(ex.snapshot).toBe(a);
    expect(step.kind).toBe('answer');
    if (step.kind !== 'answer') return;
    expect(step.answer.status).toBe(403);
    expect(step.answer.body).toContain(formatTime(new Date(ex.startedAt), 'Europe/London'));
    expect(step.answer.body).not.toContain(formatTime(new Date(ex.startedAt), 'Asia/Tokyo'));
    expect(h.audit.rows.map((r) => [r.action, r.profile, r.categories])).toEqual([
      ['block', 'pupil', ['social']],
    ]);

    // An exchange started after the swap decides with the new snapshot.
    const later = await http(h, PUPIL, 'http://social.test/');
    expect(later.ex.snapshot).toBe(b);
    expect(later.step.kind).toBe('forward');
  });

  it('reads policy() exactly once per exchange', async () => {
    let calls = 0;
    const h = await harness({
      policy: (a) => () => {
        calls++;
        return a;
      },
    });
    await http(h, STAFF, 'http://social.test/');
    expect(calls).toBe(1);
  });
});

describe('fail closed: a check that throws is a block recorded as an error', () => {
  async function failing(): Promise<Harness> {
    const h = await harness({ inspectionReady: true });
    const real = h.snapshot;
    h.env.policy = () => ({ ...real, lists: throwingLists(real.lists, 'list index exploded') });
    return h;
  }

  it('http: a lists.match that throws → 403, row error / SG_POLICY_ERROR with the cause as note', async () => {
    const h = await failing();
    const { step, ex } = await http(h, PUPIL, 'http://allowed.test/page');
    expect(step).toMatchObject({ kind: 'answer', answer: { status: 403 } });
    if (step.kind === 'answer') {
      expect(step.answer.body).toContain(ex.id);
      expect(step.answer.body).not.toContain('list index exploded');
    }
    expect(h.audit.rows.map(summary)).toEqual([
      {
        kind: 'request',
        method: 'GET',
        scheme: 'http',
        clientIp: PUPIL,
        action: 'error',
        reason: 'SG_POLICY_ERROR',
        host: 'allowed.test',
        port: 80,
        path: '/page',
        user: null,
        profile: 'pupil',
        categories: [],
        status: 403,
        note: 'list index exploded',
      },
    ]);
  });

  it('upgrade: the same error row, never a relay', async () => {
    const h = await failing();
    const { step } = await upgrade(h, PUPIL, 'http://allowed.test/ws');
    expect(step).toMatchObject({ kind: 'answer', answer: { status: 403, close: true } });
    expect(h.audit.rows.map((r) => [r.action, r.reason, r.note])).toEqual([
      ['error', 'SG_POLICY_ERROR', 'list index exploded'],
    ]);
  });

  it('inner: the same error row, kind inspected', async () => {
    const h = await harness({ inspectionReady: true });
    const { context } = await openTunnel(h, PUPIL, 'allowed.test:443', 'allowed.test');
    const real = h.snapshot;
    h.env.policy = () => ({ ...real, lists: throwingLists(real.lists, 'list index exploded') });
    const { step, ex } = await http(h, PUPIL, '/', { host: 'allowed.test', tunnel: context });
    expect(step).toMatchObject({ kind: 'answer', answer: { status: 403 } });
    expect(h.audit.row(ex.id)).toMatchObject({
      action: 'error',
      reason: 'SG_POLICY_ERROR',
      note: 'list index exploded',
      kind: 'inspected',
    });
  });

  it('an identity check that throws → 403, row error / SG_IDENTITY_ERROR under the guest profile', async () => {
    const h = await harness();
    h.env.checks.identifier.identify = async () => {
      throw new Error('state database is locked');
    };
    const { step } = await http(h, STAFF, 'http://allowed.test/');
    expect(step).toMatchObject({ kind: 'answer', answer: { status: 403 } });
    expect(h.audit.rows.map((r) => [r.action, r.reason, r.profile, r.user, r.note])).toEqual([
      ['error', 'SG_IDENTITY_ERROR', 'guest', null, 'state database is locked'],
    ]);
    const tunnel = await connect(h, STAFF, 'allowed.test:443');
    expect(tunnel.step).toMatchObject({ kind: 'answer', answer: { status: 403, close: true } });
  });

  it('a profile the snapshot does not know → 403, row error / SG_PROFILE_UNKNOWN', async () => {
    // A reload dropped the profile that a network (or a user in the state database) still names.
    const h = await harness();
    const real = h.snapshot;
    h.env.policy = () => ({
      ...real,
      profiles: new Map([...real.profiles].filter(([name]) => name !== 'pupil')),
    });
    const { step } = await http(h, PUPIL, 'http://allowed.test/');
    expect(step).toMatchObject({ kind: 'answer', answer: { status: 403 } });
    expect(h.audit.rows.map((r) => [r.action, r.reason, r.profile, r.note])).toEqual([
      ['error', 'SG_PROFILE_UNKNOWN', 'pupil', 'no profile named pupil'],
    ]);
  });
});

describe('events: delivered after the step, never able to change it', () => {
  it('delivers decided and committed after runHttp has resolved (on setImmediate), frozen', async () => {
    const h = await harness();
    const seen: string[] = [];
    let committedRow: unknown;
    h.events.on('decided', (e) => seen.push(`decided:${e.verdict}`));
    h.events.on('committed', (e) => {
      seen.push(`committed:${e.row.action}`);
      committedRow = e.row;
    });
    const { step, ex } = await http(h, STAFF, 'http://social.test/');
    expect(step.kind).toBe('answer');
    expect(seen).toEqual([]);
    await tick();
    expect(seen).toEqual(['decided:warn', 'committed:warn']);
    expect(committedRow).toEqual(h.audit.row(ex.id));
    expect(Object.isFrozen(committedRow)).toBe(true);
  });

  it('a committed subscriber that throws changes neither the step nor the rows, and is counted', async () => {
    const run = async (subscribe: boolean) => {
      const h = await harness();
      if (subscribe)
        h.events.on('committed', () => {
          throw new Error('subscriber bug');
        });
      const results = [
        await http(h, PUPIL, 'http://allowed.test/a'),
        await http(h, PUPIL, 'http://blocked.example/b'),
      ];
      await tick();
      const steps = results.map(({ step }) =>
        step.kind === 'answer' ? { kind: step.kind, status: step.answer.status } : { kind: step.kind },
      );
      return { steps, rows: h.audit.rows.map(summary), errors: h.events.errors };
    };
    const quiet = await run(false);
    const noisy = await run(true);
    expect(noisy.steps).toEqual(quiet.steps);
    expect(noisy.steps).toEqual([{ kind: 'forward' }, { kind: 'answer', status: 403 }]);
    expect(noisy.rows).toEqual(quiet.rows);
    expect(quiet.errors).toBe(0);
    expect(noisy.errors).toBe(2);
  });

  it('a subscriber that tries to change the committed row cannot', async () => {
    const h = await harness();
    let caught: unknown;
    h.events.on('committed', (e) => {
      try {
        (e.row as { action: string }).action = 'allow';
      } catch (err) {
        caught = err;
      }
    });
    const { ex } = await http(h, PUPIL, 'http://blocked.example/');
    await tick();
    expect(caught).toBeInstanceOf(TypeError);
    expect(h.audit.row(ex.id)?.action).toBe('block');
  });

  it('delivers completed with the outcome, after the call that wrote it', async () => {
    const h = await harness();
    const completed: unknown[] = [];
    h.events.on('completed', (e) => completed.push(e));
    const { ex } = await http(h, PUPIL, 'http://allowed.test/');
    ex.complete({ status: 200, bytesIn: 1, bytesOut: 2 });
    expect(completed).toEqual([]);
    await tick();
    expect(completed).toEqual([
      { id: ex.id, outcome: { status: 200, bytesIn: 1, bytesOut: 2, durationMs: expect.any(Number) } },
    ]);
  });

  it('emits no committed event for a row the store refused', async () => {
    const h = await harness();
    h.audit.failing = true;
    let committed = 0;
    h.events.on('committed', () => committed++);
    await http(h, PUPIL, 'http://allowed.test/');
    await tick();
    expect(committed).toBe(0);
  });
});
