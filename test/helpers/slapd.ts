/**
 * The school directory fixture (test/fixtures/ldap/school.ldif) served by a real slapd (scripts/slapd.ts).
 *
 *   const server = await startSlapd();    // server.url, server.bindCount(dn), await server.stop()
 *   identity: { basicAuth: true, ldap: fixtureLdap(server.url) }
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  SERVICE_DN,
  SERVICE_PASSWORD,
  startSlapd as startWith,
  SUFFIX,
  type Slapd,
} from '../../scripts/slapd.js';
import type { ConfigInput } from '../../src/config/schema.js';
import { tempDir } from './schoolgate.js';

export {
  ADMIN_DN,
  ADMIN_PASSWORD,
  findSlapd,
  freePort,
  SERVICE_DN,
  SERVICE_PASSWORD,
  SLAPD_SKIP_MESSAGE,
  STAFF_DN,
  SUFFIX,
  YEAR7_DN,
  type Slapd,
} from '../../scripts/slapd.js';

export const SCHOOL_LDIF = fileURLToPath(new URL('../fixtures/ldap/school.ldif', import.meta.url));

export function startSlapd(ldif = SCHOOL_LDIF, tls?: { certPem: string; keyPem: string }): Promise<Slapd> {
  return startWith(ldif, tls);
}

export type LdapInput = NonNullable<NonNullable<ConfigInput['identity']>['ldap']>;

/** identity.ldap for the fixture directory at `url`: the service account (its password in an owner-only file), people by uid. */
export function fixtureLdap(url: string, extra: Partial<LdapInput> = {}): LdapInput {
  const passwordFile = path.join(tempDir(), 'bind-password');
  writeFileSync(passwordFile, `${SERVICE_PASSWORD}\n`, { mode: 0o600 });
  return {
    url,
    bindDn: SERVICE_DN,
    bindPasswordFile: passwordFile,
    userBase: `ou=People,${SUFFIX}`,
    userFilter: '(uid={user})',
    timeoutMs: 2_000,
    ...extra,
  };
}
