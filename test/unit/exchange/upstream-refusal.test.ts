/**
 * An origin refused after the request's row was committed: a second row that says why, with who and what
 * from the first and nothing counted twice, committed before the page; 503 when it cannot be.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { refuseUpstreamCertificate } from '../../../src/exchange/upstream-refusal.js';
import { closeHarnesses, harness, http, PUPIL } from './playbook.js';

afterEach(closeHarnesses);

describe('refuseUpstreamCertificate', () => {
  it('commits a row of its own that says why, then a 502 page quoting it', async () => {
    const h = await harness();
    const { step, ex } = await http(h, PUPIL, 'http://www.google.com/search?q=red+pandas&safe=off');
    if (step.kind !== 'forward') throw new Error(`expected a forward, got ${step.kind}`);
    const asked = h.audit.row(ex.id)!;
    expect(asked).toMatchObject({ action: 'allow', searchTerm: 'red pandas' });

    const page = await refuseUpstreamCertificate(
      ex,
      step.target,
      'weak-key',
      'RSA 1024-bit key',
      step.pageUrl,
    );

    const refusal = h.audit.rows.at(-1)!;
    expect(refusal.id).not.toBe(asked.id);
    expect(refusal).toMatchObject({
      action: 'error',
      reason: 'upstream-cert:weak-key',
      status: 502,
      note: 'RSA 1024-bit key',
      user: asked.user,
      profile: asked.profile,
      clientIp: PUPIL,
      host: 'www.google.com',
      path: asked.path,
      rule: asked.rule,
      // Already on the request's row: a report must not count them twice.
      searchTerm: null,
      searchEngine: null,
      rewrites: null,
      flagged: false,
    });
    expect(page.status).toBe(502);
    expect(page.close).toBe(true);
    expect(page.body).toContain('(upstream-cert:weak-key)');
    expect(page.body).toContain(refusal.id);
  });

  it('answers 503 when the refusal cannot be recorded (fail closed)', async () => {
    const h = await harness();
    const { step, ex } = await http(h, PUPIL, 'http://allowed.test/');
    if (step.kind !== 'forward') throw new Error(`expected a forward, got ${step.kind}`);
    h.audit.failing = true;
    const page = await refuseUpstreamCertificate(ex, step.target, 'no-san', 'no SAN', step.pageUrl);
    expect(page.status).toBe(503);
    expect(h.audit.rows.map((r) => r.action)).toEqual(['allow']);
  });
});
