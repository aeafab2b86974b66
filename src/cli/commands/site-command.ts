/**
 * `schoolgate networks|devices|users site <key> <site|none>`: puts a network, device or user in a school of
 * the trust (or takes it out), recorded in the admin-changes record; a running proxy is reloaded after.
 */
import type { Command } from 'commander';
import { setSite, siteArgument, type SiteTarget } from '../../identity/site-admin.js';
import {
  configFrom,
  reloadAfterChange,
  withChangeOptions,
  withCommonOptions,
  type ChangeOptions,
  type CommonOptions,
} from '../common.js';
import { beginPolicyEdit } from '../policy-edit.js';

export function registerSiteCommand(
  parent: Command,
  target: SiteTarget,
  keyName: string,
  example: string,
): void {
  withChangeOptions(withCommonOptions(parent.command('site')))
    .description(`set the school (site) of a ${target} of the trust, or "none" to clear it`)
    .argument(`<${keyName}>`)
    .argument('<site>', 'a site name (lower-case letters, digits, hyphens), or none')
    .addHelpText(
      'after',
      `\nExample:\n  schoolgate ${parent.name()} site ${example} north --reason "north site"`,
    )
    .action(async (key: string, site: string, opts: CommonOptions & ChangeOptions) => {
      const config = configFrom(opts);
      await beginPolicyEdit(config.dataDir);
      const r = await setSite(config, target, key, siteArgument(site), opts);
      console.log(`${target} ${r.key}: site ${r.before ?? 'none'} → ${r.after ?? 'none'}`);
      await reloadAfterChange(config.dataDir);
    });
}
