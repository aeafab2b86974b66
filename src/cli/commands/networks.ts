/**
 * `schoolgate networks` (CIDR → profile) and `schoolgate devices` (fixed address → user or profile),
 * kept in the state database beside the config file's own; a running proxy is reloaded after each change.
 */
import { type Command } from 'commander';
import type { ReadonlyConfig } from '../../config/load.js';
import { SchoolgateError } from '../../errors.js';
import { canonicalCidr, canonicalIp } from '../../state/addresses.js';
import { withState } from '../../state/store.js';
import {
  configFrom,
  reloadAfterChange,
  withChangeOptions,
  withCommonOptions,
  type ChangeOptions,
  type CommonOptions,
} from '../common.js';

type Opts = CommonOptions & ChangeOptions & { json?: boolean };

function needProfile(config: ReadonlyConfig, profile: string): void {
  if (!(profile in config.profiles))
    throw new SchoolgateError('SG_PROFILE_UNKNOWN', `--profile: no profile named "${profile}"`, {
      suggestion: `use one of: ${Object.keys(config.profiles).join(', ')}`,
    });
}

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
    .addHelpText(
      'after',
      '\nExample:\n  schoolgate networks add 10.30.0.0/24 --profile staff --name "Staff room" --reason "new VLAN"',
    )
    .action(async (cidrArg: string, opts: Opts & { profile: string; name?: string }) => {
      const config = configFrom(opts);
      const cidr = canonicalCidr(cidrArg);
      needProfile(config, opts.profile);
      const entry = { cidr, profile: opts.profile, ...(opts.name ? { name: opts.name } : {}) };
      await withState(config.dataDir, (s) =>
        s.transaction(() => {
          if (s.addresses.network(cidr) || config.identity.networks.some((n) => n.cidr === cidr))
            throw new SchoolgateError('SG_NETWORK_INVALID', `network ${cidr} is already mapped`, {
              suggestion: `remove it first with \`schoolgate networks remove ${cidr}\``,
            });
          s.addresses.addNetwork(entry);
          s.changes.record({
            action: 'networks.add',
            target: `network ${cidr}`,
            after: entry,
            reason: opts.reason,
            by: opts.by,
          });
        }),
      );
      console.log(`network ${cidr} → profile ${opts.profile}`);
      await reloadAfterChange(config.dataDir);
    });

  withChangeOptions(withCommonOptions(networks.command('remove')))
    .description('remove a network mapping made with `networks add`')
    .argument('<cidr>')
    .addHelpText('after', '\nExample:\n  schoolgate networks remove 10.30.0.0/24 --reason "VLAN retired"')
    .action(async (cidrArg: string, opts: Opts) => {
      const config = configFrom(opts);
      const cidr = canonicalCidr(cidrArg);
      await withState(config.dataDir, (s) =>
        s.transaction(() => {
          const before = s.addresses.network(cidr);
          if (!before)
            throw new SchoolgateError('SG_NETWORK_INVALID', `network ${cidr} is not in the networks table`, {
              suggestion: config.identity.networks.some((n) => n.cidr === cidr)
                ? 'it is in the config file: edit identity.networks there'
                : 'see `schoolgate networks list`',
            });
          s.addresses.removeNetwork(cidr);
          s.changes.record({
            action: 'networks.remove',
            target: `network ${cidr}`,
            before,
            reason: opts.reason,
            by: opts.by,
          });
        }),
      );
      console.log(`removed network ${cidr}`);
      await reloadAfterChange(config.dataDir);
    });

  withCommonOptions(networks.command('list'))
    .description('networks from the config file and from `networks add`')
    .option('--json', 'JSON output')
    .addHelpText('after', '\nExample:\n  schoolgate networks list --json')
    .action(async (opts: Opts) => {
      const config = configFrom(opts);
      const rows = [
        ...config.identity.networks.map((n) => ({ ...n, source: 'config' })),
        ...(await withState(config.dataDir, (s) => s.addresses.networks())).map((n) => ({
          ...n,
          source: 'cli',
        })),
      ];
      if (opts.json) return void console.log(JSON.stringify(rows));
      for (const n of rows)
        console.log(`${n.cidr.padEnd(24)} ${n.profile.padEnd(12)} ${n.source.padEnd(7)} ${n.name ?? ''}`);
    });

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
    .addHelpText(
      'after',
      '\nExample:\n  schoolgate devices add 10.20.3.17 --name "J Smith laptop" --user j.smith --reason "fixed IP"',
    )
    .action(async (addressArg: string, opts: Opts & { name: string; user?: string; profile?: string }) => {
      const config = configFrom(opts);
      const address = canonicalIp(addressArg);
      if (opts.profile) needProfile(config, opts.profile);
      const entry = {
        address,
        name: opts.name,
        ...(opts.user ? { user: opts.user } : {}),
        ...(opts.profile ? { profile: opts.profile } : {}),
      };
      await withState(config.dataDir, (s) =>
        s.transaction(() => {
          if (opts.user) s.users.require(opts.user);
          if (s.addresses.device(address) || config.identity.devices.some((d) => d.address === address))
            throw new SchoolgateError('SG_NETWORK_INVALID', `device ${address} is already mapped`, {
              suggestion: `remove it first with \`schoolgate devices remove ${address}\``,
            });
          s.addresses.addDevice(entry);
          s.changes.record({
            action: 'devices.add',
            target: `device ${address}`,
            after: entry,
            reason: opts.reason,
            by: opts.by,
          });
        }),
      );
      console.log(
        `device ${address} (${opts.name})${opts.user ? ` → user ${opts.user}` : ''}${opts.profile ? ` → profile ${opts.profile}` : ''}`,
      );
      await reloadAfterChange(config.dataDir);
    });

  withChangeOptions(withCommonOptions(devices.command('remove')))
    .description('remove a device mapping made with `devices add`')
    .argument('<address>')
    .addHelpText('after', '\nExample:\n  schoolgate devices remove 10.20.3.17 --reason "laptop returned"')
    .action(async (addressArg: string, opts: Opts) => {
      const config = configFrom(opts);
      const address = canonicalIp(addressArg);
      await withState(config.dataDir, (s) =>
        s.transaction(() => {
          const before = s.addresses.device(address);
          if (!before)
            throw new SchoolgateError('SG_NETWORK_INVALID', `device ${address} is not in the devices table`, {
              suggestion: 'see `schoolgate devices list`',
            });
          s.addresses.removeDevice(address);
          s.changes.record({
            action: 'devices.remove',
            target: `device ${address}`,
            before,
            reason: opts.reason,
            by: opts.by,
          });
        }),
      );
      console.log(`removed device ${address}`);
      await reloadAfterChange(config.dataDir);
    });

  withCommonOptions(devices.command('list'))
    .description('devices from the config file and from `devices add`')
    .option('--json', 'JSON output')
    .addHelpText('after', '\nExample:\n  schoolgate devices list --json')
    .action(async (opts: Opts) => {
      const config = configFrom(opts);
      const rows = [
        ...config.identity.devices.map((d) => ({ ...d, source: 'config' })),
        ...(await withState(config.dataDir, (s) => s.addresses.devices())).map((d) => ({
          ...d,
          source: 'cli',
        })),
      ];
      if (opts.json) return void console.log(JSON.stringify(rows));
      for (const d of rows)
        console.log(
          `${d.address.padEnd(18)} ${d.name.padEnd(24)} ${(d.user ?? '-').padEnd(16)} ${(d.profile ?? '-').padEnd(10)} ${d.source}`,
        );
    });
}
