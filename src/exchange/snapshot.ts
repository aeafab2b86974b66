/**
 * One immutable snapshot of what a decision depends on: the loaded lists, the profiles and the config they
 * were loaded with. A reload swaps the whole object; an exchange takes it once, when it starts, so a reload
 * in the middle of a request can never pair an old decision with a new profile, time zone or realm.
 */
import type { ReadonlyConfig } from '../config/load.js';
import type { CategoryLists, Profile } from '../policy/types.js';
import type { PageBranding } from '../proxy/pages/branding.js';

export interface PolicySnapshot {
  lists: CategoryLists;
  profiles: ReadonlyMap<string, Profile>;
  /** The config this snapshot was loaded with: live settings (time zone, realm, guest profile, warn). */
  config: ReadonlyConfig;
  /** The school's name, logo (read and checked when loaded) and contact line for its pages. */
  branding?: PageBranding;
}
