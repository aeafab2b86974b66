/** `schoolgate config check`: validate a config (and the category lists it names) without starting. */
import type { Command } from 'commander';
import { checkIllegalTier } from '../../app/reload.js';
import { loadPolicy } from '../../app/start.js';
import { loadHostRoutes } from '../../proxy/hosts-file.js';
import { configFrom, withCommonOptions, type CommonOptions } from '../common.js';

export function registerConfigCheck(program: Command): void {
  const config = program.command('config').description('configuration tools');
  withCommonOptions(config.command('check'))
    .description('validate the configuration and category lists without starting')
    .argument('[file]', 'the config file (same as --config)')
    .action(async (file: string | undefined, opts: CommonOptions) => {
      const loaded = configFrom({ ...opts, ...(file ? { config: file } : {}) });
      const policy = await loadPolicy(loaded);
      loadHostRoutes(loaded.hostsFile, loaded.hosts);
      // A tier that would block every request at start is an error here (serve starts, but browses nothing).
      checkIllegalTier(undefined, policy.lists.illegal);
      const tier = policy.lists.illegal;
      if (tier?.state !== 'loaded')
        console.log(
          'warning: no illegal-content lists loaded (IWF, CTIRU): see README "The illegal-content tier"',
        );
      for (const warning of policy.warnings) console.log(`warning: ${warning}`);
      console.log(
        `ok: ${file ?? opts.config ?? '(built-in defaults)'}: ${policy.profiles.size} profiles, ${policy.lists.categories.size} categories`,
      );
    });
}
