/**
 * Running a report end to end, for the CLI: open the audit database (a writable connection only for the
 * access record, a read-only one for the report), check and record the access, build, render, write.
 */
import { isPgFault, pgUnavailable } from '../audit/postgres/unavailable.js';
import { openStateDatabase, stateDbPath } from '../state/database.js';
import { UnblockRequestStore, type UnblockRequest } from '../state/unblock-requests.js';
import { closeSync, existsSync, openSync, writeSync } from 'node:fs';
import path from 'node:path';
import type Database from 'better-sqlite3';
import { openWritableDatabase } from '../audit/open-database.js';
import { rowToStored } from '../audit/row-mapping.js';
import type { ReadonlyConfig } from '../config/load.js';
import { SchoolgateError } from '../errors.js';
import { caseSubjects, type CaseSubject } from '../audit/case-subjects.js';

import { accessPolicy, authorise, authoriseWith, currentOsUser, type AccessRequest } from './access.js';
import { UNCHECKED_BY_WARNING } from './people.js';
import type { BuiltReport } from './builders.js';
import { csvCell, csvHeader, csvRow } from './render-csv.js';
import { renderHtml } from './render-html.js';
import { renderText } from './render-text.js';
import { loadCategoryInfo, openReadOnly, type ReportSource, type SqliteSource } from './source.js';
import { SqliteReads } from './sqlite-reads.js';
import type { AuditReads } from './audit-reads.js';
import { LocalClock, formatLocal } from './time.js';

export type ReportFormat = 'text' | 'html' | 'csv' | 'json';
export const FORMATS: readonly ReportFormat[] = ['text', 'html', 'csv', 'json'];

export function auditPathOf(config: ReadonlyConfig): string {
  return path.join(config.dataDir, 'audit.sqlite');
}

/** The writable connection: access records, cases, purge. Migrates the schema if the proxy has not yet. */
export function openAdmin(config: ReadonlyConfig): Database.Database {
  const file = auditPathOf(config);
  if (!existsSync(file))
    throw new SchoolgateError('SG_AUDIT_UNAVAILABLE', `there is no audit database at ${file}`, {
      context: { path: file },
      suggestion:
        'give --data (or --config) for the data directory the proxy uses; it is created when the proxy first runs',
    });
  return openWritableDatabase(file, { busyTimeoutMs: 5000 });
}

/** The report's reading side on the SQLite file: category metadata as the proxy loads it, then the file. */
export async function openSource(config: ReadonlyConfig, now: number): Promise<SqliteSource> {
  const categories = await loadCategoryInfo(config.categoriesDir, config.dataDir);
  const db = openReadOnly(auditPathOf(config));
  return {
    db,
    reads: new SqliteReads(db),
    timeZone: config.timeZone,
    now,
    clock: new LocalClock(config.timeZone),
    categories,
    unblockRequests: (fromMs, toMs) => readUnblockRequests(config.dataDir, fromMs, toMs),
  };
}

/** A report's source on the store's reads (PostgreSQL's): category metadata as the proxy loads it. */
export async function sourceOn(
  config: ReadonlyConfig,
  reads: AuditReads,
  now: number,
): Promise<ReportSource> {
  return {
    reads,
    timeZone: config.timeZone,
    now,
    clock: new LocalClock(config.timeZone),
    categories: await loadCategoryInfo(config.categoriesDir, config.dataDir),
    unblockRequests: (fromMs, toMs) => readUnblockRequests(config.dataDir, fromMs, toMs),
  };
}

/** The state database's unblock requests of a period, read-only; none when it has no such table yet. */
function readUnblockRequests(dataDir: string, fromMs: number, toMs: number): UnblockRequest[] {
  if (!existsSync(stateDbPath(dataDir))) return [];
  const db = openStateDatabase(dataDir, { readonly: true });
  try {
    const hasTable = db.prepare("SELECT 1 FROM sqlite_master WHERE name = 'unblock_requests'").get();
    return hasTable ? new UnblockRequestStore(db).between(fromMs, toMs) : [];
  } finally {
    db.close();
  }
}

/** Where output goes: a new file (never overwritten, owner-only: this is monitoring information) or stdout. */
export class Output {
  private readonly fd: number;
  private buffer = '';
  /** `fd`: write to an already open descriptor instead (benchmarks: /dev/null). */
  constructor(
    readonly file: string | undefined,
    fd?: number,
  ) {
    if (fd !== undefined) this.fd = fd;
    else if (file) {
      try {
        this.fd = openSync(file, 'wx', 0o600);
      } catch (err) {
        throw new SchoolgateError('SG_ARGUMENT_INVALID', `--out ${file}: cannot create the file`, {
          context: { file, detail: err instanceof Error ? err.message : String(err) },
          suggestion: 'name a new file in an existing folder; an existing file is never overwritten',
        });
      }
    } else this.fd = 1;
  }
  write(text: string): void {
    this.buffer += text;
    if (this.buffer.length > 1 << 16) this.flush();
  }
  flush(): void {
    let data = Buffer.from(this.buffer, 'utf8');
    this.buffer = '';
    while (data.length > 0) {
      try {
        const n = writeSync(this.fd, data);
        data = data.subarray(n);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EAGAIN') continue;
        throw err;
      }
    }
  }
  close(): void {
    this.flush();
    if (this.fd !== 1) closeSync(this.fd);
  }
}

/** Where writeReport writes: a file or stdout (Output), or a string for the console's downloads. */
export type ReportSink = Pick<Output, 'write'>;

export async function writeReport(
  built: BuiltReport,
  format: ReportFormat,
  src: ReportSource,
  out: ReportSink,
): Promise<void> {
  if (format === 'text') out.write(renderText(built.doc));
  else if (format === 'html') out.write(renderHtml(built.doc));
  else if (format === 'json') {
    const head = JSON.stringify(built.data);
    if (!built.rows) out.write(`${head}\n`);
    else {
      out.write(`${head.slice(0, -1)},"rows":[`);
      let first = true;
      for await (const r of built.rows()) {
        out.write(`${first ? '' : ','}${JSON.stringify({ ...rowToStored(r), seq: r.seq })}`);
        first = false;
      }
      out.write(']}\n');
    }
  } else if (built.rows) {
    out.write(csvHeader());
    const local = (ms: number) => formatLocal(ms, src.timeZone);
    for await (const r of built.rows()) out.write(csvRow(r, local));
  } else {
    const table = built.doc.sections.find((s) => s.table)?.table;
    if (table) {
      out.write(`${table.columns.map(csvCell).join(',')}\r\n`);
      for (const row of table.rows) out.write(`${row.map(csvCell).join(',')}\r\n`);
    }
  }
}

/** One line on stderr when --by is free text (reports.people not set), so nobody takes it for checked. */
export function warnIfByUnchecked(config: ReadonlyConfig): void {
  if (config.reports.people === null) process.stderr.write(`${UNCHECKED_BY_WARNING}\n`);
}

export interface RunSpec {
  access: Omit<AccessRequest, 'osUser'>;
  format: ReportFormat;
  out?: string | undefined;
  /** Builds from the store's reads (AuditReads): SQLite or PostgreSQL, whichever config.store names. */
  build: (src: ReportSource) => BuiltReport | Promise<BuiltReport>;
}

/** Authorise (recording the request), then build and write the report. Returns the access-log id. */
export async function runReport(config: ReadonlyConfig, spec: RunSpec, now = Date.now()): Promise<number> {
  if (config.store !== 'sqlite') return runOnPostgres(config, spec, now);
  const osUser = currentOsUser();
  const admin = openAdmin(config);
  let accessId: number;
  try {
    if (spec.access.needsBy) warnIfByUnchecked(config);
    accessId = authorise(admin, accessRequest(spec, osUser), accessPolicy(config, now));
  } finally {
    admin.close();
  }
  const src = await openSource(config, now);
  try {
    await buildAndWrite(spec, src, () => spec.build(src));
  } finally {
    src.db.close();
  }
  return accessId;
}

function accessRequest(spec: RunSpec, osUser: string): AccessRequest {
  return {
    needsPurpose: true,
    ...spec.access,
    osUser,
    format: spec.format,
    outFile: spec.out ? path.resolve(spec.out) : null,
  };
}

async function buildAndWrite(
  spec: RunSpec,
  src: ReportSource,
  build: () => BuiltReport | Promise<BuiltReport>,
): Promise<void> {
  const built = await build();
  const out = new Output(spec.out);
  try {
    await writeReport(built, spec.format, src, out);
  } finally {
    out.close();
  }
}

/**
 * The same on PostgreSQL: the access is recorded in PostgreSQL (report_access, PG migration 7) before
 * anything is read, or the report is refused (SG_AUDIT_UNAVAILABLE). The case a report is pulled under is read from PostgreSQL, where `case open` keeps it.
 */
async function runOnPostgres(config: ReadonlyConfig, spec: RunSpec, now: number): Promise<number> {
  const { openPgReportStore } = await import('../audit/postgres/report-reads.js');
  const store = await openPgReportStore(config);
  try {
    const osUser = currentOsUser();
    if (spec.access.needsBy) warnIfByUnchecked(config);
    const req = accessRequest(spec, osUser);
    // The case is where `case open` keeps it on this store: PostgreSQL (read before deciding, which is sync).
    const underCase = req.caseRef ? ((await store.cases.get(req.caseRef)) ?? null) : null;
    const accessId = await authoriseWith(
      store.recorder,
      (ref) => (ref === req.caseRef ? underCase : null),
      req,
      accessPolicy(config, now),
    );
    const src = await sourceOn(config, store.reads, now);
    await buildAndWrite(spec, src, () => spec.build(src));
    return accessId;
  } catch (err) {
    throw isPgFault(err)
      ? pgUnavailable(err, 'the report could not be made from the PostgreSQL audit store')
      : err;
  } finally {
    await store.close();
  }
}

/**
 * A case's subjects, from the store `case open` keeps them in: the SQLite file, or PostgreSQL on
 * store: { postgres } (the node's SQLite file has no cases there: its subjects would be none).
 */
export async function caseSubjectsOf(config: ReadonlyConfig, ref: string): Promise<CaseSubject[]> {
  if (config.store === 'sqlite') {
    const db = openAdmin(config);
    try {
      return caseSubjects(db, ref);
    } finally {
      db.close();
    }
  }
  const { openPgReportStore } = await import('../audit/postgres/report-reads.js');
  const store = await openPgReportStore(config);
  try {
    return (await store.cases.require(ref)).subjects;
  } finally {
    await store.close();
  }
}

/** A case from the SQLite file's cases table (none there: no such case). */
