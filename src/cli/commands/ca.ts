/**
 * `schoolgate ca init|export|renew`: the school CA used for HTTPS inspection. `init` creates it (keeps an
 * existing one unless --force); `export` writes the public certificate, PEM or DER, for devices and MDM
 * profiles (`--next`: the staged one); `renew` stages the next CA beside the current one and, with
 * --activate, makes it the signing CA (src/tls/ca-renew.ts). The private key is never printed or exported.
 */
import { writeFileSync } from 'node:fs';
import { type Command, Option } from 'commander';
import { certsDirOf } from '../../app/start.js';
import { SchoolgateError } from '../../errors.js';
import { caPaths, createCa, readCa } from '../../tls/ca.js';
import { readNextCa } from '../../tls/ca-renew.js';
import { configFrom, withCommonOptions, type CommonOptions } from '../common.js';
import { registerCaRenew } from './ca-renew.js';

interface CaOptions extends CommonOptions {
  certs?: string;
}

export function registerCa(program: Command): void {
  const ca = program.command('ca').description('the school CA for HTTPS inspection');
  withCommonOptions(ca.command('init'))
    .description('create the school CA in the certs folder (an existing CA is kept unless --force)')
    .option('--certs <dir>', 'certs folder (default: tls.certsDir, ./certs)')
    .option('--force', 'replace an existing CA: every device must then install the new certificate')
    .action((opts: CaOptions & { force?: boolean }) => {
      const config = configFrom(opts);
      const dir = certsDirOf(config, opts.certs);
      const { ca: made, created } = createCa(dir, {
        force: opts.force === true,
        name: config.tls.caName,
      });
      console.log(
        [
          created
            ? `created the school CA in ${dir}`
            : `kept the existing school CA in ${dir} (--force replaces it)`,
          `  certificate: ${caPaths(dir).cert}`,
          `  private key: ${caPaths(dir).key} (owner-only; never copy it to devices)`,
          `  subject:     ${made.subject}`,
          `  expires:     ${made.notAfter.toISOString().slice(0, 10)}`,
          `  SHA-256:     ${made.fingerprint256}`,
          'Install the certificate on devices: `schoolgate ca export --out schoolgate-ca.crt`, or http://<proxy>:3128/ca.crt',
        ].join('\n'),
      );
    });
  withCommonOptions(ca.command('export'))
    .description('write the public CA certificate (never the key) for devices and MDM profiles')
    .option('--certs <dir>', 'certs folder (default: tls.certsDir, ./certs)')
    .addOption(new Option('--der', 'DER (binary; Windows GPO and some MDMs)').conflicts('pem'))
    .addOption(new Option('--pem', 'PEM (text; the default)').conflicts('der'))
    .option('--out <file>', 'write to this file instead of standard output')
    .option('--next', 'the next CA staged by `ca renew` (install it beside the current one)')
    .action((opts: CaOptions & { der?: boolean; pem?: boolean; out?: string; next?: boolean }) => {
      const dir = certsDirOf(configFrom(opts), opts.certs);
      const loaded = opts.next ? readNextCa(dir) : readCa(dir);
      if (!loaded)
        throw new SchoolgateError(
          'SG_ARGUMENT_INVALID',
          `no ${opts.next ? 'next school CA staged' : 'school CA'} in ${dir}`,
          {
            context: { certsDir: dir },
            suggestion: opts.next
              ? 'run `schoolgate ca renew` to stage one'
              : 'run `schoolgate ca init` (serve also creates it on first start), or pass --certs DIR',
          },
        );
      const data = opts.der ? loaded.certDer : Buffer.from(loaded.certPem);
      if (opts.out) {
        writeFileSync(opts.out, data, { mode: 0o644 });
        console.error(`wrote the school CA certificate (${opts.der ? 'DER' : 'PEM'}) to ${opts.out}`);
      } else if (opts.der && process.stdout.isTTY) {
        throw new SchoolgateError('SG_ARGUMENT_INVALID', 'refusing to write DER (binary) to a terminal', {
          suggestion: 'add --out FILE, or redirect standard output to a file',
        });
      } else process.stdout.write(data);
    });
  registerCaRenew(ca);
}
