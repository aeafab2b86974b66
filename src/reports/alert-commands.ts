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
import type Database from 'better-sqlite3';
import { ackAlert, getAlert, queryAlerts, type AlertQuery, type StoredAlert } from '../audit/alerts-table.js';
import { recordAccess } from '../audit/report-access.js';
import type { ReadonlyConfig } from '../config/load.js';
import { SchoolgateError } from '../errors.js';
import { accessPolicy, authorise, osUserRefusal } from './access.js';
import {
  alertJsonLine,
  alertListDoc,
  alertShowDoc,
  referencedRows,
  terminalSafeJson,
} from './alert-views.js';
import { alertData, alertPerson } from './alerts.js';
import { renderText } from './render-text.js';
import { openAdmin, openSource, warnIfByUnchecked, type Output } from './run.js';

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

function check(db: Database.Database, config: ReadonlyConfig, who: AlertReader, f: AccessFields): void {
  warnIfByUnchecked(config);
  authorise(
    db,
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
function requireAlert(
  db: Database.Database,
  config: ReadonlyConfig,
  who: AlertReader,
  id: string,
  command: string,
): StoredAlert {
  const alert = getAlert(db, id);
  const fields = { command: `${command} ${id}`, subject: alert ? alertPerson(alert) : null };
  if (!alert && osUserRefusal(config.reports.allowedOsUsers, config.dataDir, who.osUser) === null) {
    const reason = `there is no alert ${id}`;
    recordAccess(db, {
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
  check(db, config, who, fields);
  return alert!;
}

export async function listAlerts(
  config: ReadonlyConfig,
  who: AlertReader,
  q: AlertQuery & { json: boolean },
  out: Output,
): Promise<number> {
  const { json, ...query } = q;
  const db = openAdmin(config);
  let alerts: StoredAlert[];
  try {
    check(db, config, who, {
      command: 'alerts list',
      subject: query.user ?? null,
      fromMs: query.since ?? null,
      toMs: who.now,
      format: json ? 'json' : 'text',
      site: query.site ?? null,
    });
    alerts = queryAlerts(db, query);
  } finally {
    db.close();
  }
  if (json) for (const a of alerts) out.write(`${alertJsonLine(a)}\n`);
  else {
    const src = await openSource(config, who.now);
    try {
      out.write(
        renderText(
          alertListDoc(
            src,
            alerts,
            `${query.open ? 'Open safeguarding alerts' : 'Safeguarding alerts'}${query.site !== undefined ? `: site ${query.site}` : ''}`,
          ),
        ),
      );
    } finally {
      src.db.close();
    }
  }
  return alerts.length;
}

export async function showAlert(
  config: ReadonlyConfig,
  who: AlertReader,
  id: string,
  json: boolean,
  out: Output,
): Promise<void> {
  const db = openAdmin(config);
  let alert: StoredAlert;
  try {
    alert = requireAlert(db, config, who, id, 'alerts show');
  } finally {
    db.close();
  }
  const src = await openSource(config, who.now);
  try {
    const rows = referencedRows(src.db, alert.auditRowIds);
    if (json) out.write(`${terminalSafeJson({ ...alertData(alert), rows })}\n`);
    else out.write(renderText(alertShowDoc(src, alert, rows)));
  } finally {
    src.db.close();
  }
}

export function acknowledgeAlert(
  config: ReadonlyConfig,
  who: AlertReader,
  id: string,
  note: string,
): StoredAlert {
  const db = openAdmin(config);
  try {
    const alert = requireAlert(db, config, who, id, 'alerts ack');
    if (alert.status === 'acked')
      throw new SchoolgateError(
        'SG_ALERT_ACKED',
        `alert ${id} was already acknowledged by ${alert.ackedBy ?? '?'} (OS user ${alert.ackedOsUser ?? '?'})`,
        {
          context: { id, ackedBy: alert.ackedBy, ackedAt: alert.ackedAt },
          suggestion: 'record further action as a case note: schoolgate case note REF --by NAME TEXT',
        },
      );
    // Only an open alert is acknowledged: two DSLs acking at once leave the first one's record.
    const done = db
      .transaction(() => {
        const now = getAlert(db, id);
        if (now?.status !== 'open') return false;
        return ackAlert(db, id, { at: who.now, by: who.by!, osUser: who.osUser, note });
      })
      .immediate();
    const after = getAlert(db, id)!;
    if (!done)
      throw new SchoolgateError(
        'SG_ALERT_ACKED',
        `alert ${id} was acknowledged by ${after.ackedBy ?? '?'} meanwhile`,
        {
          context: { id },
        },
      );
    return after;
  } finally {
    db.close();
  }
}
