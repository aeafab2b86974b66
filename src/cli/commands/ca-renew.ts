/**
 * `schoolgate ca renew [--activate]`: roll the school CA over with an overlap. Without --activate it stages
 * the next CA beside the current one (which keeps signing) and the proxy publishes it at /ca-next.crt; once
 * devices have it, --activate makes it the signing CA. A running proxy is reloaded after either step, so
 * /ca-next.crt appears and the switch (leaf cache emptied) happens without a restart; `schoolgate reload`
 * does the same for a proxy this command cannot reach.
 */
import path from 'node:path';
import type { Command } from 'commander';
import { certsDirOf } from '../../app/start.js';
import { withState } from '../../state/store.js';
import { activateNextCa, nextCaPaths, PREVIOUS_CA_CERT_FILE, stageNextCa } from '../../tls/ca-renew.js';
import { caDaysLeft, caPaths, readCa, type SchoolCa } from '../../tls/ca.js';
import {
  configFrom,
  reloadAfterChange,
  withChangeOptions,
  withCommonOptions,
  type ChangeOptions,
  type CommonOptions,
} from '../common.js';

type RenewOptions = CommonOptions & ChangeOptions & { certs?: string; force?: boolean; activate?: boolean };

export function registerCaRenew(ca: Command): void {
  withChangeOptions(withCommonOptions(ca.command('renew')))
    .description(
      'stage the next school CA beside the current one (published at /ca-next.crt); --activate switches to it',
    )
    .option('--certs <dir>', 'certs folder (default: tls.certsDir, ./certs)')
    .option('--force', 'stage a new next CA even though one is staged (devices must install the new one)')
    .option('--activate', 'make the staged CA the signing CA (after every device has installed it)')
    .addHelpText(
      'after',
      '\nSteps:\n  1. schoolgate ca renew              stage the next CA; the current one keeps signing\n  2. install /ca-next.crt (or `ca export --next --der`) on every device BESIDE the current certificate\n  3. schoolgate ca renew --activate   the new CA signs; the old certificate stays valid on devices\nA running proxy is reloaded after steps 1 and 3 (or run `schoolgate reload`).',
    )
    .action(async (opts: RenewOptions) => {
      const config = configFrom(opts);
      const dir = certsDirOf(config, opts.certs);
      if (opts.activate) await activate(dir, config.dataDir, opts);
      else await stage(dir, config.dataDir, config.tls.caName, opts);
    });
}

async function stage(dir: string, dataDir: string, caName: string | null, opts: RenewOptions): Promise<void> {
  const { next, created } = stageNextCa(dir, { force: opts.force === true, name: caName });
  const current = currentOrNull(dir);
  console.log(
    [
      created
        ? `staged the next school CA in ${dir} (the current one keeps signing)`
        : `a next school CA is already staged in ${dir}, kept (--force makes another)`,
      ...describe(next, nextCaPaths(dir).cert),
      `  private key: ${nextCaPaths(dir).key} (owner-only; never copy it to devices)`,
      current
        ? `  current CA:  expires ${day(current.notAfter)} (${caDaysLeft(current)} days left)`
        : '  current CA:  none usable',
      'Next:',
      '  1. Install it on every device BESIDE the current certificate (a second import or MDM payload):',
      '     http://<proxy>:3128/ca-next.crt, or `schoolgate ca export --next --der --out schoolgate-ca-next.crt`',
      '  2. Once every device has it (allow the overlap your rollout needs, e.g. 30 days, and finish before',
      `     the current CA ends), run \`schoolgate ca renew --activate\`.`,
    ].join('\n'),
  );
  if (created)
    await withState(dataDir, (s) =>
      s.changes.record({
        action: 'ca.renew.stage',
        target: dir,
        after: { fingerprint256: next.fingerprint256, notAfter: next.notAfter.toISOString() },
        reason: opts.reason,
        by: opts.by,
      }),
    );
  await reloadAndSay(dataDir);
}

async function activate(dir: string, dataDir: string, opts: RenewOptions): Promise<void> {
  const { activated, previous } = activateNextCa(dir);
  console.log(
    [
      `activated the school CA in ${dir}: it signs every new inspected connection from now on`,
      ...describe(activated, caPaths(dir).cert),
      previous
        ? `  previous:    kept as ${path.join(dir, PREVIOUS_CA_CERT_FILE)} (ends ${day(new Date(previous.validTo))}); devices may keep it installed`
        : '  previous:    none',
      'Devices without the new certificate now show certificate errors on inspected sites: install it (/ca.crt).',
    ].join('\n'),
  );
  await withState(dataDir, (s) =>
    s.changes.record({
      action: 'ca.renew.activate',
      target: dir,
      before: previous ? { fingerprint256: previous.fingerprint256 } : null,
      after: { fingerprint256: activated.fingerprint256, notAfter: activated.notAfter.toISOString() },
      reason: opts.reason,
      by: opts.by,
    }),
  );
  await reloadAndSay(dataDir);
}

/** Reload a running proxy (its answer says what it did with the CA); else say when it takes effect. */
async function reloadAndSay(dataDir: string): Promise<void> {
  const outcome = await reloadAfterChange(dataDir);
  const note = (outcome.reload as { ca?: string } | undefined)?.ca;
  if (note) console.log(note);
  if (!outcome.running)
    console.log('(a proxy running with another data folder: run `schoolgate reload` there)');
}

function describe(ca: SchoolCa, file: string): string[] {
  return [
    `  certificate: ${file}`,
    `  subject:     ${ca.subject}`,
    `  expires:     ${day(ca.notAfter)}`,
    `  SHA-256:     ${ca.fingerprint256}`,
  ];
}

function currentOrNull(dir: string): SchoolCa | null {
  try {
    return readCa(dir);
  } catch {
    return null;
  }
}

function day(d: Date): string {
  return d.toISOString().slice(0, 10);
}
