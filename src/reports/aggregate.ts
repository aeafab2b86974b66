/**
 * One pass over a stream of audit rows, keeping every figure a report shows. Memory is bounded by the number
 * of distinct days, hosts, categories and people, plus the lists a report prints in full (flagged rows,
 * searches, self-reports), each capped at LIST_CAP.
 */
import { checkSelfReport, referenceOf, sameSite, type Referent, type SelfReportCheck } from './references.js';
import { parseCategories, rowAddress, type AuditRowRaw, type ReportSource } from './source.js';

export const LIST_CAP = 5000;

export type Bucket = 'allowed' | 'warned' | 'continued' | 'blocked' | 'other';
export const BUCKETS: readonly Bucket[] = ['allowed', 'warned', 'continued', 'blocked', 'other'];

/** allow (and pilot mode's would-block / would-warn, which reached the site) → allowed; warn → warned; continue (pressed Continue) and continued (a visit under it) → continued. */
export function bucketOf(action: string): Bucket {
  switch (action) {
    case 'allow':
    case 'would-block': // pilot mode: the site was reached (`report would-block` lists them)
    case 'would-warn':
      return 'allowed';
    case 'warn':
      return 'warned';
    case 'continue':
    case 'continued':
      return 'continued';
    case 'block':
      return 'blocked';
    default:
      return 'other';
  }
}

export type Counts = Record<Bucket, number> & { requests: number };
export const zeroCounts = (): Counts => ({
  requests: 0,
  allowed: 0,
  warned: 0,
  continued: 0,
  blocked: 0,
  other: 0,
});

export interface DomainStat extends Counts {
  host: string;
  categories: string[];
  firstMs: number;
  lastMs: number;
}

export interface PersonStat extends Counts {
  user: string;
  /** The profiles the person's rows were decided under (staff, pupil, ...), so reviews mark them apart. */
  profiles: Set<string>;
  flagged: number;
  hosts: Set<string>;
  categories: Map<string, number>;
  firstMs: number;
  lastMs: number;
}

export interface RowSummary {
  id: string;
  seq: number | null;
  timeMs: number;
  user: string | null;
  profile: string | null;
  clientIp: string;
  action: string;
  categories: string[];
  host: string;
  address: string;
  flagged: boolean;
  searchTerm: string | null;
  searchEngine: string | null;
  note: string | null;
  reason: string;
  status: number | null;
  userAgent?: string | null;
  /** A Continue's or self-report's categories are those of the row it names: true when they came from there. */
  categoriesReferred?: boolean;
  /** A self-report checked against the block it names. */
  check?: SelfReportCheck;
}

export function summarise(r: AuditRowRaw, categories = parseCategories(r)): RowSummary {
  return {
    id: r.id,
    seq: r.seq,
    timeMs: r.time_ms,
    user: r.username,
    profile: r.profile,
    clientIp: r.client_ip,
    action: r.action,
    categories,
    host: r.host,
    address: rowAddress(r),
    flagged: r.flagged === 1,
    searchTerm: r.search_term,
    searchEngine: r.search_engine,
    note: r.note,
    reason: r.reason,
    status: r.status,
  };
}

export class Aggregate {
  readonly total = zeroCounts();
  readonly byAction = new Map<string, number>();
  readonly byCategory = new Map<string, Counts>();
  /** Flagged rows by host. */
  readonly flaggedDomains = new Map<string, DomainStat>();
  /** All rows by host (domain reports). */
  readonly hosts = new Map<string, DomainStat>();
  readonly people = new Map<string, PersonStat>();
  readonly days = new Map<string, { requests: number; flagged: number }>();
  readonly hours = Array.from({ length: 24 }, () => ({ requests: 0, flagged: 0 }));
  readonly flaggedRows: RowSummary[] = [];
  readonly searches: RowSummary[] = [];
  readonly selfReports: RowSummary[] = [];
  readonly continues: RowSummary[] = [];
  flagged = 0;
  truncated = false;
  firstMs: number | null = null;
  lastMs: number | null = null;

  /** Flagged rows by category (a flagged row in two categories counts in both). */
  readonly flaggedByCategory = new Map<string, number>();

  constructor(private readonly src: ReportSource) {}

  /**
   * Counts one row. Synchronous for almost every row; a Continue or self-report first looks up the row it
   * names, and then the caller awaits it before adding the next row (the lists keep the rows' order).
   */
  add(r: AuditRowRaw): void | Promise<void> {
    const own = parseCategories(r);
    const id = own.length === 0 ? referenceOf(r.action, r.reason) : null;
    if (id === null && r.action !== 'self-report') return this.count(r, own, null, null);
    return this.withReferent(r, own, id);
  }

  private async withReferent(r: AuditRowRaw, own: string[], id: string | null): Promise<void> {
    const referent = id === null ? null : await this.src.reads.referent(id);
    let check: SelfReportCheck | null = null;
    if (r.action === 'self-report') {
      const report = { timeMs: r.time_ms, user: r.username, clientIp: r.client_ip, host: r.host };
      // Whether the site was blocked elsewhere is asked only when the check needs it (an unmatched report).
      let asked = false;
      check = checkSelfReport(report, referent, () => ((asked = true), false), this.src.timeZone);
      if (asked) {
        const blocked = await this.src.reads.blockedThere(report);
        check = checkSelfReport(report, referent, () => blocked, this.src.timeZone);
      }
    }
    this.count(r, own, referent, check);
  }

  private count(
    r: AuditRowRaw,
    own: string[],
    referent: Referent | null,
    check: SelfReportCheck | null,
  ): void {
    const bucket = bucketOf(r.action);
    // A Continue or self-report is about the page it names: counted under that page's category.
    const referred = referent !== null && sameSite(referent.host, r.host) && referent.categories.length > 0;
    const cats = referred ? referent.categories : own;
    const flagged = r.flagged === 1;
    bump(this.total, bucket);
    this.byAction.set(r.action, (this.byAction.get(r.action) ?? 0) + 1);
    for (const c of cats.length > 0 ? cats : ['(uncategorised)']) {
      let cc = this.byCategory.get(c);
      if (!cc) this.byCategory.set(c, (cc = zeroCounts()));
      bump(cc, bucket);
    }
    domain(this.hosts, r, cats, bucket);
    if (flagged) {
      this.flagged++;
      domain(this.flaggedDomains, r, cats, bucket);
      this.keep(this.flaggedRows, summarise(r, cats));
      for (const c of cats) this.flaggedByCategory.set(c, (this.flaggedByCategory.get(c) ?? 0) + 1);
    }
    const user = r.username ?? '(no user)';
    let p = this.people.get(user);
    if (!p) {
      p = {
        ...zeroCounts(),
        user,
        profiles: new Set(),
        flagged: 0,
        hosts: new Set(),
        categories: new Map(),
        firstMs: r.time_ms,
        lastMs: r.time_ms,
      };
      this.people.set(user, p);
    }
    bump(p, bucket);
    if (r.profile) p.profiles.add(r.profile);
    if (flagged) p.flagged++;
    if (p.hosts.size < 1000) p.hosts.add(r.host);
    for (const c of cats) p.categories.set(c, (p.categories.get(c) ?? 0) + 1);
    p.firstMs = Math.min(p.firstMs, r.time_ms);
    p.lastMs = Math.max(p.lastMs, r.time_ms);

    const { day, hour } = this.src.clock.of(r.time_ms);
    let d = this.days.get(day);
    if (!d) this.days.set(day, (d = { requests: 0, flagged: 0 }));
    d.requests++;
    this.hours[hour]!.requests++;
    if (flagged) {
      d.flagged++;
      this.hours[hour]!.flagged++;
    }
    if (r.search_term) this.keep(this.searches, summarise(r, cats));
    if (r.action === 'self-report' || r.action === 'continue') {
      const s = { ...summarise(r, cats), ...(referred ? { categoriesReferred: true } : {}) };
      if (r.action === 'self-report') {
        if (check) s.check = check;
        this.keep(this.selfReports, s);
      } else this.keep(this.continues, s);
    }
    this.firstMs = this.firstMs === null ? r.time_ms : Math.min(this.firstMs, r.time_ms);
    this.lastMs = this.lastMs === null ? r.time_ms : Math.max(this.lastMs, r.time_ms);
  }

  /** Adds every row, in order. */
  async addAll(rows: AsyncIterable<AuditRowRaw>): Promise<void> {
    for await (const r of rows) {
      const p = this.add(r);
      if (p) await p;
    }
  }

  private keep(list: RowSummary[], s: RowSummary): void {
    if (list.length < LIST_CAP) list.push(s);
    else this.truncated = true;
  }
}

function bump(c: Counts, bucket: Bucket): void {
  c.requests++;
  c[bucket]++;
}

function domain(map: Map<string, DomainStat>, r: AuditRowRaw, cats: string[], bucket: Bucket): void {
  let d = map.get(r.host);
  if (!d) {
    d = { ...zeroCounts(), host: r.host, categories: [], firstMs: r.time_ms, lastMs: r.time_ms };
    map.set(r.host, d);
  }
  bump(d, bucket);
  for (const c of cats) if (!d.categories.includes(c)) d.categories.push(c);
  d.firstMs = Math.min(d.firstMs, r.time_ms);
  d.lastMs = Math.max(d.lastMs, r.time_ms);
}
