/**
 * `schoolgate networks` (CIDR → profile) and `schoolgate devices` (fixed address → user or profile),
 * kept in the state database beside the config file's own; a running proxy is reloaded after each change.
 */
import { type Command } from 'commander';
import {
  addDevice,
  addNetwork,
  listDevices,
  listNetworks,
  removeDevice,
  removeNetwork,
} from '../../identity/address-admin.js';
import {
  configFrom,
  reloadAfterChange,
  withChangeOptions,
  withCommonOptions,
  type ChangeOptions,
  type CommonOptions,
} from '../common.js';
import { registerSiteCommand } from './site-command.js';
import { beginPolicyEdit } from '../policy-edit.js';

type Opts = CommonOptions & ChangeOptions & { json?: boolean };

export function registerNetworks(program: Command): void {
  const networks = program
    .command('networks')
    .description('client networks (CIDR) and the profile their unauthenticated clients get')
    .addHelpText(
      'after',
      '\nExamples:\n  schoolgate networks add 10.20.0.0/16 --profile pupil --name "Year 7 wifi"\n  schoolgate networks list --json',
    );

  withChangeOptions(withCommonOptions(networks.command('add')))
    .description('map a network to a profile')
    .argument('<cidr>', 'e.g. 10.20.0.0/16')
    .requiredOption('--profile <name>', 'profile for clients in it')
    .option('--name <text>', 'a label, e.g. "Library PCs"')
    .option('--site <name>', 'the school of the trust it belongs to, e.g. north')
    .addHelpText(
      'after',
      '\nExample:\n  schoolgate networks add 10.30.0.0/24 --profile staff --name "Staff room" --reason "new VLAN"',
    )
    .action(async (cidr: string, opts: Opts & { profile: string; name?: string; site?: string }) => {
      const config = configFrom(opts);
      await beginPolicyEdit(config.dataDir);
      const entry = await addNetwork(
        config,
        { cidr, profile: opts.profile, name: opts.name, site: opts.site },
        opts,
      );
      console.log(
        `network ${entry.cidr} → profile ${entry.profile}${entry.site ? ` (site ${entry.site})` : ''}`,
      );
      await reloadAfterChange(config.dataDir);
    });

  withChangeOptions(withCommonOptions(networks.command('remove')))
    .description('remove a network mapping made with `networks add`')
    .argument('<cidr>')
    .addHelpText('after', '\nExample:\n  schoolgate networks remove 10.30.0.0/24 --reason "VLAN retired"')
    .action(async (cidr: string, opts: Opts) => {
      const config = configFrom(opts);
      await beginPolicyEdit(config.dataDir);
      const removed = await removeNetwork(config, cidr, opts);
      console.log(`removed network ${removed.cidr}`);
      await reloadAfterChange(config.dataDir);
    });

  withCommonOptions(networks.command('list'))
    .description('networks from the config file and from `networks add`')
    .option('--json', 'JSON output')
    .addHelpText('after', '\nExample:\n  schoolgate networks list --json')
    .action(async (opts: Opts) => {
      const rows = await listNetworks(configFrom(opts));
      if (opts.json) return void console.log(JSON.stringify(rows));
      for (const n of rows)
        console.log(
          `${n.cidr.padEnd(24)} ${n.profile.padEnd(12)} ${n.source.padEnd(7)} ${(n.site ?? '-').padEnd(10)} ${n.name ?? ''}`,
        );
    });

  registerSiteCommand(networks, 'network', 'cidr', '10.30.0.0/24');

  const devices = program
    .command('devices')
    .description('fixed-address devices (staff laptops) and the user or profile they stand for')
    .addHelpText(
      'after',
      '\nExamples:\n  schoolgate devices add 10.20.3.17 --name "J Smith laptop" --user j.smith\n  schoolgate devices list',
    );

  withChangeOptions(withCommonOptions(devices.command('add')))
    .description('map an address to a user (their profile) or a profile')
    .argument('<address>')
    .requiredOption('--name <text>', 'a label for the device')
    .option('--user <name>', 'the user the device belongs to')
    .option('--profile <name>', 'profile (default: the user’s, else the network’s)')
    .option('--site <name>', 'the school of the trust it belongs to, e.g. north')
    .addHelpText(
      'after',
      '\nExample:\n  schoolgate devices add 10.20.3.17 --name "J Smith laptop" --user j.smith --reason "fixed IP"',
    )
    .action(
      async (
        address: string,
        opts: Opts & { name: string; user?: string; profile?: string; site?: string },
      ) => {
        const config = configFrom(opts);
        await beginPolicyEdit(config.dataDir);
        const d = await addDevice(
          config,
          { address, name: opts.name, user: opts.user, profile: opts.profile, site: opts.site },
          opts,
        );
        console.log(
          `device ${d.address} (${d.name})${d.user ? ` → user ${d.user}` : ''}${d.profile ? ` → profile ${d.profile}` : ''}${d.site ? ` (site ${d.site})` : ''}`,
        );
        await reloadAfterChange(config.dataDir);
      },
    );

  withChangeOptions(withCommonOptions(devices.command('remove')))
    .description('remove a device mapping made with `devices add`')
    .argument('<address>')
    .addHelpText('after', '\nExample:\n  schoolgate devices remove 10.20.3.17 --reason "laptop returned"')
    .action(async (address: string, opts: Opts) => {
      const config = configFrom(opts);
      await beginPolicyEdit(config.dataDir);
      const removed = await removeDevice(config, address, opts);
      console.log(`removed device ${removed.address}`);
      await reloadAfterChange(config.dataDir);
    });

  withCommonOptions(devices.command('list'))
    .description('devices from the config file and from `devices add`')
    .option('--json', 'JSON output')
    .addHelpText('after', '\nExample:\n  schoolgate devices list --json')
    .action(async (opts: Opts) => {
      const rows = await listDevices(configFrom(opts));
      if (opts.json) return void console.log(JSON.stringify(rows));
      for (const d of rows)
        console.log(
          `${d.address.padEnd(18)} ${d.name.padEnd(24)} ${(d.user ?? '-').padEnd(16)} ${(d.profile ?? '-').padEnd(10)} ${d.source.padEnd(7)} ${d.site ?? '-'}`,
        );
    });

  registerSiteCommand(devices, 'device', 'address', '10.20.3.17');
}
