/**
 * `alerts:` in the configuration: the engine's rules and windows, the digest, and the sinks
 * (sinks/config.ts). Every field has a default; a school with no `alerts:` section gets alerts in the
 * table, the log, `schoolgate alerts list` and the reports.
 */
import { z } from 'zod';
import { SEVERITIES } from './keywords/index.js';
import { DEFAULT_KEYWORD_HOSTS } from './rules.js';
import { alertSinksShape } from './sinks/config.js';

const severity = z.enum(SEVERITIES);
const clock = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'expected HH:MM (24-hour)');
const weekday = z.enum(['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun']);

export const digestSchema = z
  .strictObject({
    weekly: z
      .strictObject({
        day: weekday.default('mon').describe('The weekday it is sent on.'),
        time: clock.default('07:30').describe('HH:MM local time.'),
      })
      .nullable()
      .default({ day: 'mon', time: '07:30' })
      .describe('The weekly review, e-mailed at this local time (timeZone); null = none.'),
    daily: z
      .strictObject({ time: clock.default('07:30').describe('HH:MM local time.') })
      .nullable()
      .default(null)
      .describe('A daily review of the day before, e-mailed at this local time; null = none.'),
  })
  .describe('Scheduled reviews e-mailed to the e-mail sink`s recipients (only when an e-mail sink is set).');

export const alertsSchema = z.strictObject({
  enabled: z.boolean().default(true).describe('false: no alerts are raised (the audit log is unchanged).'),
  windowMinutes: z
    .number()
    .int()
    .min(1)
    .max(24 * 60)
    .default(15)
    .describe('The same person and rule within this many minutes is one alert with a count.'),
  categories: z
    .record(z.string(), severity)
    .default({ selfharm: 'danger', extremism: 'danger' })
    .describe(
      'Severity of the alerts of categories marked `alert: true`; a category marked but not named here raises `warning`.',
    ),
  keywordHosts: z
    .array(z.string().min(1))
    .default([...DEFAULT_KEYWORD_HOSTS])
    .describe(
      'Hosts whose paths and queries are read for keywords (search terms of known engines always are). `google.*` = any country domain.',
    ),
  repeated: z
    .strictObject({
      attempts: z
        .number()
        .int()
        .min(2)
        .max(1000)
        .default(5)
        .describe('Blocked flagged attempts that raise it.'),
      withinMinutes: z
        .number()
        .int()
        .min(1)
        .max(24 * 60)
        .default(10)
        .describe('…within this many minutes.'),
      severity: severity.default('warning').describe('The alert’s severity.'),
    })
    .nullable()
    .default({ attempts: 5, withinMinutes: 10, severity: 'warning' })
    .describe('Blocked attempts at flagged categories by one person that raise an alert; null = off.'),
  digest: digestSchema.prefault({}),
  ...alertSinksShape,
});

export type AlertsConfig = z.output<typeof alertsSchema>;
export type DigestConfig = z.output<typeof digestSchema>;
