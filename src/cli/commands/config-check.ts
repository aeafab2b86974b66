/**
 * `schoolgate config check`: validate a config (and the category lists it names) without starting.
 * `schoolgate config show`: the effective config, defaults included, secrets redacted (src/config/show.ts).
 */
import type { Command } from 'commander';
import { stringify } from 'yaml';
import { checkIllegalTier } from '../../app/reload.js';
import { loadPolicy } from '../../app/start.js';
import { describeLocation, locationOf } from '../../config/location.js';
import { redactConfig } from '../../config/show.js';
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
        `ok: ${describeLocation(locationOf(loaded))}: ${policy.profiles.size} profiles, ${policy.lists.categories.size} categories`,
      );
    });

  withCommonOptions(config.command('show'))
    .description('print the effective configuration: the file over the built-in defaults, secrets redacted')
    .option('--json', 'JSON output')
    .addHelpText(
      'after',
      '\nThe config file is --config, else $SCHOOLGATE_CONFIG, else /etc/schoolgate/config.yaml if it exists,\nelse none (the built-in defaults); the first line says which. Every field is described in\ndocs/configuration.md.\n\nExamples:\n  schoolgate config show\n  schoolgate config show --json | jq .profiles.pupil',
    )
    .action((opts: CommonOptions & { json?: boolean }) => {
      const loaded = configFrom(opts, {}, { checkModes: false });
      const shown = redactConfig(loaded);
      if (opts.json) return void console.log(JSON.stringify(shown, null, 2));
      process.stdout.write(
        `# config: ${describeLocation(locationOf(loaded))}\n${stringify(shown, { lineWidth: 0 })}`,
      );
    });
}
