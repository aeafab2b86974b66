/** The open selftest runs: only a begun run's exact token marks a probe, and only while the run is open. */
import { describe, expect, it } from 'vitest';
import { SelftestProbes } from '../../../src/exchange/selftest-probes.js';

describe('SelftestProbes', () => {
  it('knows a begun run by its token until the run ends', () => {
    const probes = new SelftestProbes();
    const { run, token } = probes.begin();
    expect(probes.runOf(token)).toBe(run);
    expect(probes.end(token)).toBe(true);
    expect(probes.runOf(token)).toBeNull();
    expect(probes.end(token)).toBe(false);
  });

  it.each([undefined, '', 'guessed', 'x'.repeat(129)])('marks nothing for the header %j', (header) => {
    const probes = new SelftestProbes();
    probes.begin();
    expect(probes.runOf(header)).toBeNull();
  });

  it('does not take the run id, a token with a changed letter or its prefix as a token', () => {
    const probes = new SelftestProbes();
    const { run, token } = probes.begin();
    expect(probes.runOf(run)).toBeNull();
    expect(probes.runOf(token.slice(0, -1))).toBeNull();
    expect(probes.runOf(`${token.slice(0, -1)}${token.endsWith('A') ? 'B' : 'A'}`)).toBeNull();
  });

  it('forgets the oldest of more than four open runs (a selftest that crashed never ended its run)', () => {
    const probes = new SelftestProbes();
    const runs = Array.from({ length: 5 }, () => probes.begin());
    expect(probes.runOf(runs[0]!.token)).toBeNull();
    for (const r of runs.slice(1)) expect(probes.runOf(r.token)).toBe(r.run);
  });
});
