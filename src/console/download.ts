/**
 * A report as a CSV download: the CLI's own writer (reports/run.ts writeReport, whose cells are neutralised
 * against spreadsheet formulas in render-csv.ts) into a string, sent as an attachment. The file name is
 * built from safe characters only, so nothing a request gave (a case reference, a user name) can add a
 * path, a quote or a header line.
 */
import type { FastifyReply } from 'fastify';
import type { BuiltReport } from '../reports/builders.js';
import { writeReport } from '../reports/run.js';
import type { ReportSource } from '../reports/source.js';

/** `report-<parts>.csv`, each run of anything but A-Z a-z 0-9 _ - made one `_`, at most 100 characters. */
export function csvFileName(parts: readonly string[]): string {
  const safe = parts
    .join('-')
    .replace(/[^A-Za-z0-9_-]+/g, '_')
    .slice(0, 100);
  return `report-${safe || 'export'}.csv`;
}

export async function sendCsv(
  reply: FastifyReply,
  built: BuiltReport,
  src: ReportSource,
  nameParts: readonly string[],
) {
  let body = '';
  await writeReport(built, 'csv', src, { write: (text) => (body += text) });
  return reply
    .code(200)
    .type('text/csv; charset=utf-8')
    .header('content-disposition', `attachment; filename="${csvFileName(nameParts)}"`)
    .send(body);
}
