/** Fixtures of two schools of a trust (north, south) shared by the site tests. */
import type { AlertWrite } from '../../src/audit/alerts-table.js';
import { UserStore } from '../../src/identity/user-store.js';

/** A danger alert about `user` at `site`, a minute ago; its URL names the site (`north-alert.example`). */
export function sitedAlert(id: string, user: string, site: string, clientIp = '10.0.0.9'): AlertWrite {
  const now = Date.now();
  return {
    id,
    firstTime: now - 60_000,
    lastTime: now - 60_000,
    count: 1,
    user,
    profile: 'pupil',
    clientIp,
    device: null,
    site,
    rule: 'category:adult',
    list: 'adult',
    severity: 'danger',
    url: `http://${site}-alert.example/`,
    searchTerm: null,
    phrase: null,
    auditRowIds: [],
  };
}

/** Two pupils in the state database: n.pupil of site north, s.pupil of site south. */
export async function addSitedPupils(dataDir: string): Promise<void> {
  const users = new UserStore(dataDir);
  try {
    await users.add({ name: 'n.pupil', profile: 'pupil' });
    await users.add({ name: 's.pupil', profile: 'pupil' });
    users.update('n.pupil', { site: 'north' });
    users.update('s.pupil', { site: 'south' });
  } finally {
    users.close();
  }
}
