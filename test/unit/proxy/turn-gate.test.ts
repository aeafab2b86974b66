/** The gate lets a herd through a few per turn, in arrival order, and lets none wait for ever. */
import { describe, expect, it } from 'vitest';
import { TurnGate } from '../../../src/proxy/turn-gate.js';

/** One turn of the event loop (the gate's own setImmediate, queued first, runs before this one). */
const turn = () => new Promise((resolve) => setImmediate(resolve));

describe('TurnGate', () => {
  it('lets at most perTurn through each turn, in arrival order, until none wait', async () => {
    const gate = new TurnGate(32);
    const through: number[] = [];
    for (let i = 0; i < 70; i++) void gate.next().then(() => through.push(i));
    expect(through).toHaveLength(0); // never in the turn that asked
    const perTurn: number[] = [];
    while (through.length < 70) {
      await turn();
      perTurn.push(through.length);
    }
    expect(perTurn).toEqual([32, 64, 70]);
    expect(through).toEqual([...Array(70).keys()]);
    expect(gate.queued).toBe(0);
  });

  it('serves later arrivals after the earlier ones, on later turns', async () => {
    const gate = new TurnGate(2);
    const through: string[] = [];
    for (const x of ['a', 'b', 'c']) void gate.next().then(() => through.push(x));
    await turn();
    void gate.next().then(() => through.push('d'));
    await turn();
    await turn();
    expect(through).toEqual(['a', 'b', 'c', 'd']);
  });
});
