/** loadConfig refuses a file it cannot read as a config with a typed error, never a crash. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/load.js';
import { isSchoolgateError } from '../../../src/errors.js';

const dir = mkdtempSync(path.join(tmpdir(), 'sg-config-load-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function errorOf(text: string): unknown {
  const file = path.join(dir, 'schoolgate.yaml');
  writeFileSync(file, text);
  try {
    loadConfig(file);
  } catch (err) {
    return err;
  }
  return undefined;
}

describe('loadConfig on YAML that parses but cannot be built', () => {
  it.each([
    // Found by test/fuzz/config.test.ts (the alias) and while writing it (the bomb): each threw a bare
    // ReferenceError out of the yaml library.
    ['an alias to no anchor', 'listen: *x\n', /Unresolved alias/],
    [
      'an alias bomb',
      'a: &a [x,x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]\n',
      /Excessive alias count/,
    ],
  ])('%s → SG_CONFIG_UNREADABLE', (_what, text, message) => {
    const err = errorOf(text);
    expect(isSchoolgateError(err) && err.code).toBe('SG_CONFIG_UNREADABLE');
    expect((err as Error).message).toMatch(message);
  });
});
