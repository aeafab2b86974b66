/** Wires the commands together; each command lives in its own module under commands/. */
import { Command } from 'commander';
import { registerExplain } from './commands/explain.js';
import { registerServe } from './commands/serve.js';
import { registerUsers } from './commands/users.js';
import { registerConfigCheck } from './commands/config-check.js';
import { registerAudit } from './commands/audit.js';
import { registerCase } from './commands/case.js';
import { registerHold } from './commands/hold.js';
import { registerAlerts } from './commands/alerts.js';
import { registerReport } from './commands/report.js';
import { registerControl } from './commands/control.js';
import { registerLists } from './commands/lists.js';
import { registerExceptions } from './commands/exceptions.js';
import { registerProfiles } from './commands/profiles.js';
import { registerRequests } from './commands/requests.js';
import { registerNetworks } from './commands/networks.js';
import { registerSelftest } from './commands/selftest.js';
import { registerCa } from './commands/ca.js';
import { registerConsole } from './commands/console-users.js';
import { registerStore } from './commands/store.js';
import { packageVersion } from './version.js';

export function buildProgram(): Command {
  const program = new Command('schoolgate')
    .description('A web-filtering forward proxy for schools')
    .version(packageVersion(), '-V, --version', 'print the version')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride()
    .addHelpText(
      'after',
      [
        '',
        'Examples:',
        '  schoolgate serve                  # config: $SCHOOLGATE_CONFIG or /etc/schoolgate/config.yaml',
        '  schoolgate config show            # the effective config, defaults included',
        '  schoolgate explain https://www.youtube.com/ --profile pupil',
        '  schoolgate lists add social newsite.example --reason "ticket 123"',
        '  schoolgate status',
        '',
        'Every command has --help with examples, e.g. `schoolgate lists --help`.',
      ].join('\n'),
    );
  registerServe(program);
  registerExplain(program);
  registerUsers(program);
  registerConfigCheck(program);
  registerReport(program);
  registerCase(program);
  registerHold(program);
  registerAlerts(program);
  registerAudit(program);
  registerLists(program);
  registerNetworks(program);
  registerExceptions(program);
  registerProfiles(program);
  registerRequests(program);
  registerControl(program);
  registerSelftest(program);
  registerCa(program);
  registerConsole(program);
  registerStore(program);
  return program;
}
