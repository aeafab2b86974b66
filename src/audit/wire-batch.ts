/**
 * The rows and outcomes of one batch to the writer thread, packed into one JSON string of tuples (values in
 * a fixed field order, no keys). Posting a string is one copy; structured clone of the AuditEvent objects
 * walked every key of every row and was the largest single item of the proxy thread's profile. The same
 * string can go over process IPC unchanged (serve --workers).
 */
import type { AuditEvent, AuditOutcome } from './types.js';

/** Every AuditEvent field, in wire order. Adding a field to AuditEvent without adding it here fails to compile. */
const FIELDS = [
  'id',
  'time',
  'user',
  'claimedUser',
  'profile',
  'clientIp',
  'device',
  'method',
  'scheme',
  'host',
  'port',
  'path',
  'categories',
  'action',
  'rule',
  'reason',
  'flagged',
  'status',
  'kind',
  'searchTerm',
  'searchEngine',
  'rewrites',
  'note',
  'selftestRun',
  'site',
] as const satisfies readonly (keyof AuditEvent)[];
type Unlisted = Exclude<keyof AuditEvent, (typeof FIELDS)[number]>;
const everyFieldListed: [Unlisted] extends [never] ? true : Unlisted = true;
void everyFieldListed;

/** An outcome for the row `id`: [id, status, bytesIn, bytesOut, durationMs]. */
type OutcomeTuple = [string, number | null, number, number, number];

export interface OutcomeUpdate {
  id: string;
  outcome: AuditOutcome;
}

export function encodeBatch(records: readonly AuditEvent[], updates: readonly OutcomeUpdate[]): string {
  const rows = records.map((e) => FIELDS.map((f) => e[f] ?? null));
  const outcomes = updates.map(({ id, outcome: o }): OutcomeTuple => [
    id,
    o.status,
    o.bytesIn,
    o.bytesOut,
    o.durationMs,
  ]);
  return JSON.stringify([rows, outcomes]);
}

/** The inverse of encodeBatch. Throws on a string it did not make (the writer then fails the whole batch). */
export function decodeBatch(packed: string): { records: AuditEvent[]; updates: OutcomeUpdate[] } {
  const [rows, outcomes] = JSON.parse(packed) as [unknown[][], OutcomeTuple[]];
  if (!Array.isArray(rows) || !Array.isArray(outcomes)) throw new TypeError('malformed audit batch');
  const records = rows.map((values) => {
    const event: Record<string, unknown> = {};
    for (let i = 0; i < FIELDS.length; i++) {
      // An absent kind means 'request'; null is not a kind (the writer's check would refuse the row).
      if (values[i] === null && FIELDS[i] === 'kind') continue;
      event[FIELDS[i]!] = values[i];
    }
    return event as unknown as AuditEvent;
  });
  const updates = outcomes.map(([id, status, bytesIn, bytesOut, durationMs]) => ({
    id,
    outcome: { status, bytesIn, bytesOut, durationMs },
  }));
  return { records, updates };
}
