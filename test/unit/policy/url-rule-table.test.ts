/**
 * The URL rule table's "may have rules" bits (url-rule-table.ts) never hide a host's rules: get() answers
 * as a plain Map of the same rules would, while the table is built (and its bits grow) and once packed and
 * adopted, for hosts with rules and without.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { UrlRuleTable, urlRule } from '../../../src/policy/url-rule-table.js';
import { fuzzParams } from '../../fuzz/fuzz.js';

describe('a URL rule table answers as a Map of its rules', () => {
  it('on generated entries, built and adopted', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat({ max: 5000 }), fc.constantFrom('/a', '/b?x=', '/c/')), { maxLength: 300 }),
        fc.array(fc.nat({ max: 5000 }), { maxLength: 200 }),
        (added, probes) => {
          const table = new UrlRuleTable();
          const model = new Map<number, string[]>();
          for (const [entry, path] of added) {
            table.rulesFor(entry).push(urlRule('l', `h${path}`, path));
            model.set(entry, [...(model.get(entry) ?? []), path]);
          }
          const paths = (t: UrlRuleTable, e: number) => t.get(e)?.map((r) => r.path);
          for (const e of [...probes, ...model.keys()]) expect(paths(table, e)).toEqual(model.get(e));
          const adopted = new UrlRuleTable(table.image());
          for (const e of [...probes, ...model.keys()]) expect(paths(adopted, e)).toEqual(model.get(e));
        },
      ),
      fuzzParams(300),
    );
  });
});
