/** The package's bin runs directly (shebang + executable bit), as `npx schoolgate` runs it — also after a rebuild. */
import { execFile } from 'node:child_process';
import { statSync } from 'node:fs';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { assertBuilt, CLI } from '../../helpers/cli.js';

describe('the schoolgate bin', () => {
  it('is executable and prints its help', async () => {
    assertBuilt();
    expect(statSync(CLI).mode & 0o111, `${CLI} must be executable (npm run build sets it)`).not.toBe(0);
    const { stdout } = await promisify(execFile)(CLI, ['--help']);
    expect(stdout).toContain('A web-filtering forward proxy for schools');
  });
});
