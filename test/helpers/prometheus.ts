/**
 * A strict reader of the Prometheus text exposition format (0.0.4), for tests of `/metrics`. It refuses
 * what Prometheus would refuse and what a technician could not read: a malformed line, a sample of an
 * undeclared family (every family needs `# HELP` and `# TYPE` first), a family split in two, a repeated
 * series, a non-number, a histogram whose buckets are not cumulative or lack `+Inf`, a negative counter.
 * (The npm parser parse-prometheus-text-format was tried first: it reads a stray "garbage line" as a sample
 * and merges a labelled histogram's series into one, so it cannot check this exporter.)
 */

export type MetricType = 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';

export interface Sample {
  /** The sample's own name (with `_bucket`, `_sum`, `_count` for histograms and summaries). */
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Family {
  name: string;
  help: string;
  type: MetricType;
  samples: Sample[];
}

export type Metrics = Map<string, Family>;

const TYPES = new Set<string>(['counter', 'gauge', 'histogram', 'summary', 'untyped']);
const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*/;
/** What Prometheus reads as a float (Go's ParseFloat: NaN and Inf in any case; prom-client writes `Nan`). */
const FLOAT = /^(?:[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?|nan|[+-]?inf(?:inity)?)$/i;

function float(text: string, where: string): number {
  if (!FLOAT.test(text)) throw new Error(`${where}: not a number: ${JSON.stringify(text)}`);
  if (/nan/i.test(text)) return NaN;
  if (/inf/i.test(text)) return text.startsWith('-') ? -Infinity : Infinity;
  return Number(text);
}

function unescape(text: string, where: string, quote: boolean): string {
  return text.replace(/\\(.?)/g, (_, c: string) => {
    if (c === '\\') return '\\';
    if (c === 'n') return '\n';
    if (c === '"' && quote) return '"';
    throw new Error(`${where}: bad escape \\${c}`);
  });
}

/** `{a="1",b="x\"y"}` starting at `text[0] === '{'`: the labels and the rest of the line after `}`. */
function readLabels(text: string, where: string): { labels: Record<string, string>; rest: string } {
  const labels: Record<string, string> = {};
  let i = 1;
  for (;;) {
    if (text[i] === '}') return { labels, rest: text.slice(i + 1) };
    const name = LABEL_NAME.exec(text.slice(i))?.[0];
    if (!name) throw new Error(`${where}: bad label name`);
    if (name in labels) throw new Error(`${where}: label ${name} twice`);
    i += name.length;
    if (text.slice(i, i + 2) !== '="') throw new Error(`${where}: expected =" after ${name}`);
    i += 2;
    let raw = '';
    while (text[i] !== '"') {
      if (i >= text.length) throw new Error(`${where}: unterminated label value`);
      if (text[i] === '\\') raw += text[i++];
      raw += text[i++];
    }
    labels[name] = unescape(raw, where, true);
    i++;
    if (text[i] === ',') i++;
    else if (text[i] !== '}') throw new Error(`${where}: expected , or } after ${name}`);
  }
}

function familyName(sample: string, family: Family | undefined): string | undefined {
  if (!family) return undefined;
  if (sample === family.name) return family.type === 'histogram' ? undefined : family.name;
  const suffixes =
    family.type === 'histogram'
      ? ['_bucket', '_sum', '_count']
      : family.type === 'summary'
        ? ['_sum', '_count']
        : [];
  return suffixes.some((s) => sample === family.name + s) ? family.name : undefined;
}

/** Parses exposition text; throws with the line number on anything malformed. */
export function parseMetrics(text: string): Metrics {
  if (!text.endsWith('\n')) throw new Error('exposition text must end with a newline');
  const families: Metrics = new Map();
  const pendingHelp = new Map<string, string>();
  const seriesSeen = new Set<string>();
  let current: Family | undefined;
  const lines = text.slice(0, -1).split('\n');
  lines.forEach((line, index) => {
    const where = `line ${index + 1}`;
    if (line.trim() === '') return;
    if (line.startsWith('#')) {
      const meta = /^# (HELP|TYPE) (\S+)(?: (.*))?$/.exec(line);
      if (!meta) {
        if (/^#\s*(HELP|TYPE)\b/.test(line)) throw new Error(`${where}: malformed ${line}`);
        return; // a plain comment
      }
      const [, kind, name = '', rest = ''] = meta;
      if (!NAME.test(name)) throw new Error(`${where}: bad metric name ${name}`);
      if (kind === 'HELP') {
        if (pendingHelp.has(name) || families.get(name)?.help)
          throw new Error(`${where}: second HELP for ${name}`);
        pendingHelp.set(name, unescape(rest, where, false));
        return;
      }
      if (!TYPES.has(rest)) throw new Error(`${where}: unknown type ${JSON.stringify(rest)} for ${name}`);
      if (families.has(name)) throw new Error(`${where}: family ${name} declared twice`);
      const help = pendingHelp.get(name);
      if (!help?.trim()) throw new Error(`${where}: ${name} has no HELP text before its TYPE`);
      pendingHelp.delete(name);
      current = { name, help, type: rest as MetricType, samples: [] };
      families.set(name, current);
      return;
    }
    const name = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line)?.[0];
    if (!name) throw new Error(`${where}: not a sample: ${line}`);
    if (familyName(name, current) === undefined)
      throw new Error(`${where}: sample ${name} outside its family's HELP/TYPE block`);
    let rest = line.slice(name.length);
    let labels: Record<string, string> = {};
    if (rest.startsWith('{')) ({ labels, rest } = readLabels(rest, where));
    const fields = /^[ \t]+(\S+)(?:[ \t]+(-?\d+))?$/.exec(rest);
    if (!fields)
      throw new Error(`${where}: expected " value [timestamp]" after ${name}, got ${JSON.stringify(rest)}`);
    const value = float(fields[1]!, where);
    const series = `${name}${JSON.stringify(Object.entries(labels).sort())}`;
    if (seriesSeen.has(series)) throw new Error(`${where}: series ${series} repeated`);
    seriesSeen.add(series);
    if (current!.type === 'counter' && !(value >= 0))
      throw new Error(`${where}: counter ${name} is ${value}`);
    current!.samples.push({ name, labels, value });
  });
  if (pendingHelp.size > 0) throw new Error(`HELP without TYPE: ${[...pendingHelp.keys()].join(', ')}`);
  for (const f of families.values()) if (f.type === 'histogram') checkHistogram(f);
  return families;
}

function without(labels: Record<string, string>, name: string): Record<string, string> {
  return Object.fromEntries(Object.entries(labels).filter(([k]) => k !== name));
}

function checkHistogram(f: Family): void {
  const groups = new Map<string, Sample[]>();
  for (const s of f.samples) {
    const key = JSON.stringify(Object.entries(without(s.labels, 'le')).sort());
    groups.set(key, [...(groups.get(key) ?? []), s]);
  }
  for (const [key, samples] of groups) {
    const buckets = samples.filter((s) => s.name === `${f.name}_bucket`);
    if (buckets.some((b) => b.labels.le === undefined)) throw new Error(`${f.name}${key}: bucket without le`);
    const sorted = buckets
      .map((b) => ({ le: float(b.labels.le!, f.name), n: b.value }))
      .sort((a, b) => a.le - b.le);
    if (sorted.at(-1)?.le !== Infinity) throw new Error(`${f.name}${key}: no +Inf bucket`);
    for (let i = 1; i < sorted.length; i++)
      if (sorted[i]!.n < sorted[i - 1]!.n) throw new Error(`${f.name}${key}: buckets not cumulative`);
    const count = samples.find((s) => s.name === `${f.name}_count`);
    if (!samples.some((s) => s.name === `${f.name}_sum`) || !count)
      throw new Error(`${f.name}${key}: no _sum or _count`);
    if (count.value !== sorted.at(-1)!.n)
      throw new Error(`${f.name}${key}: _count differs from the +Inf bucket`);
  }
}

function sameLabels(have: Record<string, string>, want: Record<string, string>): boolean {
  const keys = Object.keys(have);
  return keys.length === Object.keys(want).length && keys.every((k) => have[k] === want[k]);
}

export function familyOf(metrics: Metrics, name: string): Family {
  const f = metrics.get(name);
  if (!f) throw new Error(`no metric ${name}`);
  return f;
}

/**
 * The value of the sample `sample` (default: the family's own name) with exactly these labels; 0 when that
 * series does not exist (a labelled counter before its first increment).
 */
export function valueOf(
  metrics: Metrics,
  name: string,
  labels: Record<string, string> = {},
  sample = name,
): number {
  return (
    familyOf(metrics, name).samples.find((s) => s.name === sample && sameLabels(s.labels, labels))?.value ?? 0
  );
}

/** An unlabelled histogram: observation count, sum, and cumulative count per upper bound. */
export function histogramOf(
  metrics: Metrics,
  name: string,
): { count: number; sum: number; buckets: Map<number, number> } {
  const f = familyOf(metrics, name);
  if (f.type !== 'histogram') throw new Error(`${name} is a ${f.type}`);
  const buckets = new Map<number, number>();
  for (const s of f.samples)
    if (s.name === `${name}_bucket`) buckets.set(float(s.labels.le ?? '', name), s.value);
  return {
    count: valueOf(metrics, name, {}, `${name}_count`),
    sum: valueOf(metrics, name, {}, `${name}_sum`),
    buckets,
  };
}
