import type { UrlRule } from './list-index.js';
import { lookupFastPath } from './lookup-fast-path.js';

/**
 * A packed UrlRuleTable, as posted from the worker thread that built it: the host entries with rules
 * (sorted), where each host's rules start in `text`, and the rules as text. Tens of thousands of rule
 * objects cost the serving thread hundreds of ms to receive one by one; a string and two typed arrays cost
 * nothing, and each host's rules are decoded the first time a request reaches that host.
 */
export interface UrlRulesImage {
  hosts: Uint32Array<ArrayBuffer>;
  /** hosts.length + 1 offsets into text. */
  starts: Uint32Array<ArrayBuffer>;
  text: string;
}

// List files never hold control characters (read-lines.ts refuses them), so these cannot occur in a rule.
const FIELD = '\u0000';
const RULE = '\u0001';

export function urlRule(list: string, entry: string, path: string): UrlRule {
  return {
    list,
    entry,
    path,
    plainPrefix: path === '' || /[/?&=]$/.test(path),
    queryRule: path.includes('?'),
  };
}

/** URL rules by the entry of their host in a HostTable: a Map while building, packed once transferred. */
export class UrlRuleTable {
  private readonly live = new Map<number, UrlRule[]>();
  private readonly packed: UrlRulesImage | undefined;
  /**
   * One bit per hash of the entries with rules (few hosts have any): a lookup for any other host ends on
   * a bit of this small array instead of a search of a big Map or of the packed hosts. Set bits may be
   * false alarms, never the reverse; kept at 16+ bits per entry (about 1 in 16 false alarms).
   */
  private mayHave = new Uint32Array(1 << 5);
  private mayHaveShift = 32 - 10;
  private withRules = 0;

  constructor(image?: UrlRulesImage) {
    if (image && image.starts.length !== image.hosts.length + 1)
      throw new Error('URL rule image is inconsistent');
    this.packed = image;
    if (image) {
      this.withRules = image.hosts.length;
      this.remark();
    }
  }

  get empty(): boolean {
    return this.live.size === 0 && (this.packed?.hosts.length ?? 0) === 0;
  }

  get(entry: number): UrlRule[] | undefined {
    if (lookupFastPath.enabled && !this.marked(entry)) return undefined;
    const rules = this.live.get(entry);
    if (rules !== undefined || this.packed === undefined) return rules;
    const at = search(this.packed.hosts, entry);
    if (at < 0) return undefined;
    const { text, starts } = this.packed;
    const decoded = text
      .slice(starts[at], starts[at + 1])
      .split(RULE)
      .map((r) => {
        const [list, ruleEntry, path] = r.split(FIELD) as [string, string, string];
        return urlRule(list, ruleEntry, path);
      });
    this.live.set(entry, decoded);
    return decoded;
  }

  /** The rules of `entry`, to add to (an empty array made for it if it has none). */
  rulesFor(entry: number): UrlRule[] {
    let rules = this.get(entry);
    if (rules === undefined) {
      this.live.set(entry, (rules = []));
      if (++this.withRules * 16 > this.mayHave.length * 32) this.remark();
      else this.mark(entry);
    }
    return rules;
  }

  private marked(entry: number): boolean {
    const bit = Math.imul(entry, 0x9e3779b1) >>> this.mayHaveShift;
    return (this.mayHave[bit >>> 5]! & (1 << (bit & 31))) !== 0;
  }

  private mark(entry: number): void {
    const bit = Math.imul(entry, 0x9e3779b1) >>> this.mayHaveShift;
    this.mayHave[bit >>> 5]! |= 1 << (bit & 31);
  }

  /** The bits again, in an array with 16+ bits per entry with rules. */
  private remark(): void {
    let bits = this.mayHave.length * 32;
    while (this.withRules * 16 > bits) bits *= 2;
    this.mayHave = new Uint32Array(bits / 32);
    this.mayHaveShift = 32 - Math.log2(bits);
    for (const entry of this.live.keys()) this.mark(entry);
    if (this.packed) for (const entry of this.packed.hosts) this.mark(entry);
  }

  /** Packed, for transfer with buffers(); a table built here (nothing packed yet). */
  image(): UrlRulesImage {
    if (this.packed) throw new Error('an adopted URL rule table is not packed again');
    const hosts = Uint32Array.from([...this.live.keys()].filter((e) => this.live.get(e)!.length > 0)).sort();
    const starts = new Uint32Array(hosts.length + 1);
    const parts: string[] = [];
    let length = 0;
    hosts.forEach((entry, i) => {
      const part = this.live
        .get(entry)!
        .map((r) => `${r.list}${FIELD}${r.entry}${FIELD}${r.path}`)
        .join(RULE);
      parts.push(part);
      starts[i] = length;
      length += part.length;
    });
    starts[hosts.length] = length;
    return { hosts, starts, text: parts.join('') };
  }

  /** Throws unless the image is whole (snapshots read from disk): hosts sorted below `entries`, offsets in text. */
  static check(image: UrlRulesImage, entries: number): void {
    const { hosts, starts, text } = image;
    if (!(hosts instanceof Uint32Array && starts instanceof Uint32Array) || typeof text !== 'string')
      throw new Error('URL rule arrays of the wrong kinds');
    if (starts.length !== hosts.length + 1 || starts[0] !== 0 || starts[hosts.length] !== text.length)
      throw new Error('URL rule offsets do not span the text');
    for (let i = 0; i < hosts.length; i++)
      if (hosts[i]! >= entries || (i > 0 && hosts[i]! <= hosts[i - 1]!) || starts[i + 1]! < starts[i]!)
        throw new Error('URL rule hosts or offsets out of order');
  }

  static buffers(image: UrlRulesImage): ArrayBuffer[] {
    return [image.hosts.buffer, image.starts.buffer];
  }
}

/** The index of `value` in the sorted `values`, or -1. */
function search(values: Uint32Array, value: number): number {
  let lo = 0;
  let hi = values.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const v = values[mid]!;
    if (v === value) return mid;
    if (v < value) lo = mid + 1;
    else hi = mid - 1;
  }
  return -1;
}
