/**
 * The list index against a plain model of its documented semantics (list-index.ts): generated domain and
 * IP entries in several lists, with many shared labels so parents and near-misses abound; every target's
 * matches, and their order (most specific host first, lists in the order first added), equal the model's.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ListIndex } from '../../../src/policy/list-index.js';
import { parseAbsoluteTarget } from '../../../src/policy/target.js';
import type { ListMatch, Target } from '../../../src/policy/types.js';
import { fuzzParams } from '../../fuzz/fuzz.js';

const label = fc.constantFrom('a', 'b', 'ab', 'ba', 'x-y', 'com', 'example', 'b_c', '0a');
const domain = fc.array(label, { minLength: 1, maxLength: 4 }).map((l) => l.join('.'));
const ip = fc.constantFrom('10.0.0.1', '10.0.0.2', '2001:db8::1');
const list = fc.constantFrom('red', 'green', 'blue');
const entry = fc.record({ host: fc.oneof(domain, domain, ip), list });

/** Domain entries cover the domain and its subdomains; IP entries their address; lists in first-added order. */
class Model {
  private readonly entries = new Map<string, string[]>();

  add(host: string, l: string): void {
    const lists = this.entries.get(host) ?? [];
    if (!lists.includes(l)) lists.push(l);
    this.entries.set(host, lists);
  }

  match(target: Target): ListMatch[] {
    const out: ListMatch[] = [];
    const kind = target.hostKind === 'domain' ? 'domain' : 'ip';
    const labels = target.host.split('.');
    const hosts = kind === 'ip' ? [target.host] : labels.map((_, i) => labels.slice(i).join('.'));
    for (const host of hosts)
      for (const l of this.entries.get(host) ?? []) out.push({ list: l, entry: host, kind });
    return out;
  }
}

describe('the list index equals its model', () => {
  it('on generated entries and targets', () => {
    fc.assert(
      fc.property(
        fc.array(entry, { maxLength: 40 }),
        fc.array(fc.oneof(domain, ip), { minLength: 1 }),
        (entries, hosts) => {
          const index = new ListIndex();
          const model = new Model();
          for (const e of entries) {
            if (e.host.includes(':') || /^\d+\.\d+\.\d+\.\d+$/.test(e.host)) index.addIp(e.host, e.list);
            else index.addDomain(e.host, e.list);
            model.add(e.host, e.list);
          }
          index.compact();
          for (const host of hosts) {
            const target = parseAbsoluteTarget(`http://${host.includes(':') ? `[${host}]` : host}/p`);
            expect(index.match(target)).toEqual(model.match(target));
          }
        },
      ),
      fuzzParams(300),
    );
  });
});
