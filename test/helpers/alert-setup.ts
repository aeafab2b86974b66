/**
 * Config pieces the alert tests share: a category of the test's own marked `alert: true` (like the shipped
 * extremism list), and the `alerts.email` block for a loopback SMTP receiver (STARTTLS on the receiver's
 * throwaway certificate, AUTH with a password read from a 0600 file, as a school would set it up), a
 * stored alert with a pupil's danger defaults, and a digest weekday whose period holds today's rows.
 */
import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { AlertWrite } from '../../src/audit/alerts-table.js';
import type { ConfigInput } from '../../src/config/schema.js';
import { addDays, startOfDay } from '../../src/reports/time.js';

type EmailInput = NonNullable<NonNullable<ConfigInput['alerts']>['email']>;

/** Adds category `name` with these domains, flagged and marked `alert`, to a fixture categories folder. */
export function addAlertCategory(
  categoriesDir: string,
  name: string,
  title: string,
  domains: string[],
): void {
  mkdirSync(path.join(categoriesDir, name));
  writeFileSync(path.join(categoriesDir, name, 'domains'), `${domains.join('\n')}\n`);
  appendFileSync(
    path.join(categoriesDir, 'categories.yaml'),
    `${name}:\n  title: ${title}\n  description: fixture\n  flagged: true\n  alert: true\n`,
  );
}

/** `alerts.email` for a loopback receiver on `port`; the password goes to a file in `dir`. */
export function loopbackEmailSink(opts: {
  dir: string;
  port: number;
  caFile: string;
  user: string;
  pass: string;
  extra?: Partial<EmailInput>;
}): EmailInput {
  const passwordFile = path.join(opts.dir, 'smtp.pass');
  writeFileSync(passwordFile, opts.pass, { mode: 0o600 });
  return {
    host: '127.0.0.1',
    port: opts.port,
    caFile: opts.caFile,
    from: 'Schoolgate <schoolgate@school.test>',
    to: ['dsl@school.test'],
    user: opts.user,
    passwordFile,
    ...opts.extra,
  };
}

/** A stored alert as the engine writes it: pupil1's self-harm keyword, danger, unless `fields` say otherwise. */
export function alertWrite(
  fields: Pick<AlertWrite, 'id' | 'firstTime' | 'lastTime'> & Partial<AlertWrite>,
): AlertWrite {
  return {
    count: 1,
    user: 'pupil1',
    profile: 'pupil',
    clientIp: '10.0.0.12',
    device: null,
    rule: 'keyword:selfharm',
    list: 'selfharm',
    severity: 'danger',
    url: null,
    searchTerm: null,
    phrase: null,
    auditRowIds: [],
    ...fields,
  };
}

/** The weekday after tomorrow in `zone` ('mon'…): a weekly digest then covers today's rows, whatever the day. */
export function digestDayAfterTomorrow(zone: string): 'mon' {
  const noon = addDays(startOfDay(Date.now(), zone), 2, zone) + 12 * 3_600_000;
  return new Intl.DateTimeFormat('en-GB', { weekday: 'short', timeZone: zone })
    .format(noon)
    .toLowerCase() as 'mon';
}
