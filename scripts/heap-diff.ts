/**
 * Compares two V8 heap snapshots (e.g. the two scripts/soak.ts --heap-snapshots wrote): objects counted and
 * self sizes summed by constructor (closures by function name, strings and code by kind), the rows that
 * grew most first. What grows with time under a steady load is what leaks.
 *
 *   node dist/scripts/heap-diff.js <earlier.heapsnapshot> <later.heapsnapshot> [--top 40]
 */
import { readFileSync } from 'node:fs';

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]] } };
  nodes: number[];
  strings: string[];
}

interface Group {
  count: number;
  bytes: number;
}

function groups(file: string): Map<string, Group> {
  const s = JSON.parse(readFileSync(file, 'utf8')) as Snapshot;
  const fields = s.snapshot.meta.node_fields;
  const types = s.snapshot.meta.node_types[0];
  const width = fields.length;
  const typeAt = fields.indexOf('type');
  const nameAt = fields.indexOf('name');
  const sizeAt = fields.indexOf('self_size');
  const out = new Map<string, Group>();
  for (let i = 0; i < s.nodes.length; i += width) {
    const type = types[s.nodes[i + typeAt]!]!;
    const named = type === 'object' || type === 'closure' || type === 'native' || type === 'hidden';
    const key = named ? `${type} ${s.strings[s.nodes[i + nameAt]!]!.slice(0, 60)}` : type;
    const g = out.get(key) ?? { count: 0, bytes: 0 };
    g.count++;
    g.bytes += s.nodes[i + sizeAt]!;
    out.set(key, g);
  }
  return out;
}

const args = process.argv.slice(2);
const [a, b] = args;
if (!a || !b) throw new Error('usage: heap-diff.js <earlier.heapsnapshot> <later.heapsnapshot> [--top N]');
const topAt = args.indexOf('--top');
const top = topAt >= 0 ? Number(args[topAt + 1]) : 40;
const before = groups(a);
const after = groups(b);
const keys = new Set([...before.keys(), ...after.keys()]);
const rows = [...keys].map((k) => {
  const x = before.get(k) ?? { count: 0, bytes: 0 };
  const y = after.get(k) ?? { count: 0, bytes: 0 };
  return { k, x, y, dBytes: y.bytes - x.bytes, dCount: y.count - x.count };
});
rows.sort((p, q) => q.dBytes - p.dBytes);
const total = (m: Map<string, Group>) => [...m.values()].reduce((t, g) => t + g.bytes, 0);
console.log(
  `total self size: ${(total(before) / 1e6).toFixed(1)} MB -> ${(total(after) / 1e6).toFixed(1)} MB`,
);
console.log('| constructor | count before | count after | Δ count | KB before | KB after | Δ KB |');
console.log('|---|---:|---:|---:|---:|---:|---:|');
for (const r of rows.slice(0, top))
  console.log(
    `| ${r.k} | ${r.x.count} | ${r.y.count} | ${r.dCount} | ${(r.x.bytes / 1024).toFixed(0)} | ${(r.y.bytes / 1024).toFixed(0)} | ${(r.dBytes / 1024).toFixed(0)} |`,
  );
