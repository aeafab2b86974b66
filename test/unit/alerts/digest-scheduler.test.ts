/**
 * The digest scheduler on a test clock, with its sending and its records as plain functions: waits are
 * capped so a sleep or a clock change is noticed, and a machine that slept through several runs sends one
 * late digest covering everything since the last one sent. (The mail itself: test/integration/alerts/digest.)
 */
import { once } from 'node:events';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { periodOf } from '../../../src/alerts/digest/schedule.js';
import { DigestScheduler, type DigestJob, type LastDigest } from '../../../src/alerts/digest/scheduler.js';
import { TestClock } from '../../helpers/test-clock.js';

const LONDON = 'Europe/London';
const DAY = 86_400_000;
/** Mondays at 07:30 in London, March and April 2026 (BST from the 29th of March). */
const MON_23_MARCH = Date.parse('2026-03-23T07:30:00Z');
const MON_30_MARCH = Date.parse('2026-03-30T06:30:00Z');
const MON_20_APRIL = Date.parse('2026-04-20T06:30:00Z');

function harness(start: number, last: LastDigest | null) {
  const clock = new TestClock(start);
  const delivered: DigestJob[] = [];
  const recorded: number[] = [];
  const scheduler = new DigestScheduler({
    schedules: [{ kind: 'weekly', day: 'mon', time: '07:30' }],
    timeZone: LONDON,
    clock,
    deliver: async (job) => void delivered.push(job),
    record: async (_job, sentAt) => void recorded.push(sentAt),
    lastSent: async () => last,
    inServiceSince: async () => start - 30 * DAY,
    retry: { maxAttempts: 3, initialBackoffMs: 1_000, maxBackoffMs: 1_000 },
    describe: String,
    logger: pino({ level: 'silent' }),
  });
  scheduler.start();
  return { clock, scheduler, delivered, recorded };
}

describe('DigestScheduler', () => {
  it('never waits longer than a minute, and sends once at the time', async () => {
    const sentBefore = { sentAt: MON_23_MARCH, toMs: periodOf('weekly', MON_23_MARCH, LONDON).toMs };
    const h = harness(Date.parse('2026-03-25T12:00:00Z'), sentBefore);
    await h.scheduler.ready;
    expect(h.delivered).toEqual([]); // last Monday's went
    expect(h.clock.pending()).toEqual([h.clock.now() + 60_000]);

    h.clock.advanceTo(MON_30_MARCH - 1);
    expect(h.delivered).toEqual([]);
    const sent = once(h.scheduler, 'sent');
    h.clock.advanceTo(MON_30_MARCH);
    await sent;
    expect(h.delivered).toEqual([
      { kind: 'weekly', dueAt: MON_30_MARCH, ...periodOf('weekly', MON_30_MARCH, LONDON), late: false },
    ]);
    expect(h.recorded).toEqual([MON_30_MARCH]);
    await h.scheduler.stop();
  });

  it('a machine asleep over three runs sends one late digest covering them all when it wakes', async () => {
    const sentBefore = { sentAt: MON_23_MARCH, toMs: periodOf('weekly', MON_23_MARCH, LONDON).toMs };
    const h = harness(Date.parse('2026-03-27T12:00:00Z'), sentBefore);
    await h.scheduler.ready;
    const sent = once(h.scheduler, 'sent');
    const wake = MON_20_APRIL + 2 * 3_600_000;
    h.clock.jumpTo(wake);
    await sent;
    expect(h.delivered).toEqual([
      {
        kind: 'weekly',
        dueAt: MON_20_APRIL,
        fromMs: sentBefore.toMs, // since the last one sent: nothing is skipped
        toMs: periodOf('weekly', MON_20_APRIL, LONDON).toMs,
        late: true,
      },
    ]);
    expect(h.scheduler.nextRuns().weekly).toBe(MON_20_APRIL + 7 * DAY);
    await h.scheduler.stop();
    expect(h.delivered).toHaveLength(1);
  });
});
