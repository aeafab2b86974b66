/**
 * `console:` in the configuration: the web console's own HTTPS listener (src/console/). Every field has a
 * default; a school with no `console:` section gets the console on port 8443, reachable from the staff
 * networks only.
 */
import { z } from 'zod';

const groupList = (role: string) =>
  z
    .array(z.string().min(1))
    .default([])
    .describe(`Directory groups whose members sign in to the console as ${role}.`);

export const consoleSchema = z
  .strictObject({
    enabled: z
      .boolean()
      .default(true)
      .describe('false: `serve` starts no console (the CLI still does everything the console does).'),
    host: z
      .string()
      .nullable()
      .default(null)
      .describe('Address the console listens on; null: the proxy’s own listen.host.'),
    port: z
      .number()
      .int()
      .min(0)
      .max(65535)
      .default(8443)
      .describe('HTTPS port of the console (0: any free port, for tests).'),
    name: z
      .string()
      .nullable()
      .default(null)
      .describe(
        'The name staff type to reach the console (its certificate names it, issued by the school CA); null: this machine’s host name.',
      ),
    networks: z
      .array(z.string().min(1))
      .nullable()
      .default(null)
      .describe(
        'Only clients in these networks (CIDR) may reach the console; null: admin.networks plus the identity.networks mapped to the staff, leadership or technician profiles.',
      ),
    idleMinutes: z
      .number()
      .int()
      .min(1)
      .max(480)
      .default(15)
      .describe('A session unused this long ends (sign in again).'),
    absoluteHours: z
      .number()
      .int()
      .min(1)
      .max(24)
      .default(8)
      .describe('A session ends this long after sign-in, however busy.'),
    lockAfterFailures: z
      .number()
      .int()
      .min(1)
      .max(100)
      .default(5)
      .describe('Failed sign-ins in a row (password or code) that lock the account.'),
    signInsPerMinute: z
      .number()
      .int()
      .min(1)
      .max(10_000)
      .default(20)
      .describe(
        'Sign-in attempts one address may make a minute (then 429), on top of the per-account lock-out.',
      ),
    lockMinutes: z
      .number()
      .int()
      .min(1)
      .max(24 * 60)
      .default(15)
      .describe('How long a locked account stays locked.'),
    importMaxKiB: z
      .number()
      .int()
      .min(1)
      .max(256 * 1024)
      .default(8 * 1024)
      .describe(
        'The largest domain list or users CSV the technician may send on the console’s imports page (KiB); a larger one is refused (SG_CONSOLE_IMPORT_REFUSED). Import bigger lists with `schoolgate lists import`.',
      ),
    directory: z
      .strictObject({
        groups: z
          .strictObject({
            headteacher: groupList('headteacher'),
            dsl: groupList('DSL'),
            technician: groupList('technician'),
            auditor: groupList('auditor'),
          })
          .prefault({})
          .describe(
            'Directory groups per console role: a DN (cn=DSL,ou=Groups,dc=school,dc=local) or a bare group name (its cn).',
          ),
      })
      .nullable()
      .default(null)
      .describe(
        'People with no local console account sign in with their directory (identity.ldap) name and password; their role comes from these groups, read again at every sign-in. A member of groups of two roles is refused (no precedence: the least privilege is none). Roles that see personal data need `schoolgate console users enrol NAME --directory` first (the TOTP secret). null: local accounts only.',
      ),
  })
  .prefault({})
  .describe('The web console for the headteacher, the DSL, the technician and the auditor (HTTPS).');

export type ConsoleConfig = z.output<typeof consoleSchema>;
