/**
 * `schoolgate alerts list | show | ack` as functions (the CLI module only parses options). Alerts name a
 * person and what they searched for: reading one is reading monitoring information, so each command is
 * checked and recorded in report_access exactly as a report is (access.ts): the OS user must be allowed
 * (reports.allowedOsUsers), `--by` is required, a `--case` given must be an open case.
 *
 * An acknowledgement is recorded twice on purpose: on the alert itself (who, when, OS user, note — the
 * safeguarding record) and in report_access (`alerts ack <id>`), beside the reads of the same alert. Not
 * in the admin-changes record: that lives in the state database and is read by technicians for changes
 * to the filter, while an ack is a DSL's action on a person's record, kept with that record.
 */
import type { AlertQuery, StoredAlert } from '../audit/alerts-table.js';
import type { CaseRecord } from '../audit/cases.js';
import type { ReadonlyConfig } from '../config/load.js';
import { SchoolgateError } from '../errors.js';
import { accessPolicy, authoriseWith, osUserRefusal } from './access.js';
import { withAlertBackend, type AlertBackend } from './alert-backend.js';
import { alertJsonLine, alertListDoc, alertShowDoc, terminalSafeJson } from './alert-views.js';
import { alertData, alertPerson } from './alerts.js';
import { renderText } from './render-text.js';
import { warnIfByUnchecked, type Output } from './run.js';

export interface AlertReader {
  by: string | null;
  caseRef: string | null;
  osUser: string;
  now: number;
}

interface AccessFields {
  command: string;
  subject?: string | null;
  fromMs?: number | null;
  toMs?: number | null;
  format?: string | null;
  /** The school of the trust the read was limited to (--site). */
  site?: string | null;
}

/** Checks the reader and records the read in the store's report_access, before anything is shown. */
async function check(
  b: AlertBackend,
  config: ReadonlyConfig,
  who: AlertReader,
  f: AccessFields,
): Promise<void> {
  warnIfByUnchecked(config);
  // The case is read before deciding (which is sync), from where `case open` keeps it on this store.
  const underCase: CaseRecord | null = who.caseRef ? await b.caseOf(who.caseRef) : null;
  await authoriseWith(
    b.recorder,
    (ref) => (ref === who.caseRef ? underCase : null),
    {
      ...f,
      by: who.by,
      osUser: who.osUser,
      caseRef: who.caseRef,
      needsBy: true,
      needsCase: who.caseRef !== null,
      // Outside a case, alerts are a review of everyone: for the reviewer roles (reports.people).
      roleNeed: who.caseRef === null ? 'reviewer' : null,
    },
    accessPolicy(config, who.now),
  );
}

/**
 * The alert, after the access check. An unknown id is refused (and recorded) only for an OS user who may
 * read alerts at all, so nobody else learns which ids exist.
 */
async function requireAlert(
  b: AlertBackend,
  config: ReadonlyConfig,
  who: AlertReader,
  id: string,
  command: string,
): Promise<StoredAlert> {
  const alert = await b.alerts.get(id);
  const fields = { command: `${command} ${id}`, subject: alert ? alertPerson(alert) : null };
  if (!alert && osUserRefusal(config.reports.allowedOsUsers, config.dataDir, who.osUser) === null) {
    const reason = `there is no alert ${id}`;
    await b.recorder.record({
      ...fields,
      by: who.by,
      osUser: who.osUser,
      caseRef: who.caseRef,
      timeMs: who.now,
      outcome: 'refused',
      reason,
    });
    throw new SchoolgateError('SG_ALERT_UNKNOWN', `${command} refused: ${reason}. The refusal is recorded.`, {
      context: { id },
      suggestion: 'list the alerts and their ids with: schoolgate alerts list --by NAME',
    });
  }
  await check(b, config, who, fields);
  return alert!;
}

/** The alerts a reader asked for, after the read is checked and recorded (the console's inbox too). */
export async function readAlerts(
  b: AlertBackend,
  config: ReadonlyConfig,
  who: AlertReader,
  query: AlertQuery,
  format: string,
): Promise<StoredAlert[]> {
  await check(b, config, who, {
    command: 'alerts list',
    subject: query.user ?? null,
    fromMs: query.since ?? null,
    toMs: who.now,
    format,
    site: query.site ?? null,
  });
  return b.alerts.list(query);
}

export async function listAlerts(
  config: ReadonlyConfig,
  who: AlertReader,
  q: AlertQuery & { json: boolean },
  out: Output,
): Promise<number> {
  const { json, ...query } = q;
  return withAlertBackend(config, async (b) => {
    const alerts = await readAlerts(b, config, who, query, json ? 'json' : 'text');
    if (json) for (const a of alerts) out.write(`${alertJsonLine(a)}\n`);
    else {
      const title = `${query.open ? 'Open safeguarding alerts' : 'Safeguarding alerts'}${query.site !== undefined ? `: site ${query.site}` : ''}`;
      out.write(renderText(alertListDoc(await b.source(who.now), alerts, title)));
    }
    return alerts.length;
  });
}

export async function showAlert(
  config: ReadonlyConfig,
  who: AlertReader,
  id: string,
  json: boolean,
  out: Output,
): Promise<void> {
  await withAlertBackend(config, async (b) => {
    const alert = await requireAlert(b, config, who, id, 'alerts show');
    const rows = await b.referencedRows(alert.auditRowIds);
    if (json) out.write(`${terminalSafeJson({ ...alertData(alert), rows })}\n`);
    else out.write(renderText(alertShowDoc(await b.source(who.now), alert, rows)));
  });
}

/** `alerts ack` on the configured store (the console's Acknowledge button too). */
export function acknowledgeAlert(
  config: ReadonlyConfig,
  who: AlertReader,
  id: string,
  note: string,
): Promise<StoredAlert> {
  return withAlertBackend(config, (b) => acknowledgeOn(b, config, who, id, note));
}

/** Checked and recorded like a read, then a compare-and-set: only an open alert is acknowledged. */
export async function acknowledgeOn(
  b: AlertBackend,
  config: ReadonlyConfig,
  who: AlertReader,
  id: string,
  note: string,
): Promise<StoredAlert> {
  const alert = await requireAlert(b, config, who, id, 'alerts ack');
  if (alert.status === 'acked')
    throw new SchoolgateError(
      'SG_ALERT_ACKED',
      `alert ${id} was already acknowledged by ${alert.ackedBy ?? '?'} (OS user ${alert.ackedOsUser ?? '?'})`,
      {
        context: { id, ackedBy: alert.ackedBy, ackedAt: alert.ackedAt },
        suggestion: 'record further action as a case note: schoolgate case note REF --by NAME TEXT',
      },
    );
  // Two DSLs acking at once (on any nodes) leave the first one's record; the second is told.
  const done = await b.alerts.ackIfOpen(id, { at: who.now, by: who.by!, osUser: who.osUser, note });
  const after = (await b.alerts.get(id))!;
  if (!done)
    throw new SchoolgateError(
      'SG_ALERT_ACKED',
      `alert ${id} was acknowledged by ${after.ackedBy ?? '?'} meanwhile`,
      {
        context: { id },
      },
    );
  return after;
}
