/**
 * `identity.ldap`: Basic proxy credentials checked against the school's LDAP / Active Directory. Kept beside
 * the code that uses it; src/config/schema.ts includes it.
 */
import { z } from 'zod';

export const ldapSchema = z
  .strictObject({
    url: z
      .string()
      .regex(/^ldaps?:\/\/[^/\s]+\/?$/i, 'expected ldap://host[:port] or ldaps://host[:port]')
      .describe(
        'The directory server: ldaps://dc1.school.local:636 (TLS from the start) or ldap://host:389 (plain, or upgraded with tls.startTls).',
      ),
    bindDn: z
      .string()
      .min(1)
      .describe(
        'The service account that looks users up (read-only is enough): CN=schoolgate,OU=Service,DC=school,DC=local.',
      ),
    bindPasswordFile: z
      .string()
      .min(1)
      .describe(
        "A file holding the service account's password (one line; trailing newline ignored). Keep it mode 0600. Read at start and reload.",
      ),
    userBase: z
      .string()
      .min(1)
      .describe('Where users are searched for (the whole subtree): OU=Pupils,DC=school,DC=local.'),
    userFilter: z
      .string()
      .refine((f) => f.includes('{user}'), 'the filter must contain {user}')
      .default('(sAMAccountName={user})')
      .describe(
        'The search filter for one user; {user} is replaced by the name typed, escaped as RFC 4515 says (so * ( ) \\ cannot change the filter). Active Directory: (sAMAccountName={user}); OpenLDAP: (uid={user}). The search must find exactly one entry.',
      ),
    groups: z
      .record(z.string().min(1), z.string().min(1))
      .default({})
      .describe(
        "Directory group DN → profile. A user's profile is that of the FIRST group in the order written here that they are a member of (memberOf on the user, or member / uniqueMember on the group); DNs compare without regard to case or spaces after commas.",
      ),
    defaultProfile: z
      .string()
      .min(1)
      .nullable()
      .default(null)
      .describe('The profile of a directory user in none of the groups; null: identity.guestProfile.'),
    tls: z
      .strictObject({
        startTls: z
          .boolean()
          .default(false)
          .describe('With an ldap:// url: upgrade the connection with StartTLS before any password is sent.'),
        caFile: z
          .string()
          .min(1)
          .optional()
          .describe(
            "The directory's CA certificate(s), PEM (a domain's own CA), trusted on top of the system store.",
          ),
      })
      .prefault({})
      .describe('TLS to the directory. The server certificate is always verified.'),
    timeoutMs: z
      .number()
      .int()
      .min(100)
      .max(60_000)
      .default(3_000)
      .describe(
        'A sign-in that the directory has not finished within this time (connect, search and bind together) counts as an outage and gets onOutage.',
      ),
    cacheTtlSeconds: z
      .number()
      .int()
      .min(0)
      .max(86_400)
      .default(900)
      .describe(
        'A successful directory sign-in is remembered this long (keyed by a keyed hash of name and password, never the password) and keeps working while the directory is down. A password changed or an account disabled in the directory takes up to this long to apply. 0: every new connection binds.',
      ),
    onOutage: z
      .enum(['guest', 'refuse'])
      .default('guest')
      .describe(
        'When the directory cannot be reached or does not answer in time and the credential is not cached: guest (browse with identity.guestProfile) or refuse (407, the browser asks again).',
      ),
  })
  .refine((l) => !(l.tls.startTls && /^ldaps:/i.test(l.url)), {
    message: 'tls.startTls is for ldap:// urls; ldaps:// is TLS already',
    path: ['tls', 'startTls'],
  });

export type LdapConfig = z.infer<typeof ldapSchema>;
