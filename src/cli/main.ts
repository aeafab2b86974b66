#!/usr/bin/env node
/** The `schoolgate` command. Exit codes are set here and nowhere else. */
import { renderError } from '../errors.js';
import { buildProgram } from './program.js';

buildProgram()
  .parseAsync(process.argv)
  .then(
    () => undefined,
    (err: unknown) => {
      const code = (err as { exitCode?: number }).exitCode;
      if (typeof code === 'number' && (err as { code?: string }).code?.startsWith('commander.')) {
        process.exitCode = code;
        return;
      }
      process.stderr.write(`${renderError(err)}\n`);
      process.exitCode = 1;
    },
  );
