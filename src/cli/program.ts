/** Wires the commands together; each command lives in its own module under commands/. */
import { Command } from 'commander';
import { registerExplain } from './commands/explain.js';
import { registerServe } from './commands/serve.js';
import { registerUsers } from './commands/users.js';
import { registerConfigCheck } from './commands/config-check.js';

export function buildProgram(): Command {
  const program = new Command('schoolgate')
    .description('A web-filtering forward proxy for schools')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  registerServe(program);
  registerExplain(program);
  registerUsers(program);
  registerConfigCheck(program);
  return program;
}
