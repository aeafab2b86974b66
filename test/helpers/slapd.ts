/**
 * The school directory fixture (test/fixtures/ldap/school.ldif) served by a real slapd (scripts/slapd.ts).
 *
 *   const server = await startSlapd();    // server.url, server.bindCount(dn), await server.stop()
 */
import { fileURLToPath } from 'node:url';
import { startSlapd as startWith, type Slapd } from '../../scripts/slapd.js';

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
