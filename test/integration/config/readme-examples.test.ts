/**
 * Every ```yaml block in README.md is a configuration a technician may copy: each must pass `schoolgate
 * config check` as written (the shipped categories, the shipped profiles underneath). Files the examples
 * name under /etc/schoolgate/ (a hosts file, secret files, a logo) are the school's own: the test provides them in
 * a temporary folder and points the example there, changing nothing else.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../helpers/cli.js';
import { tempDir } from '../../helpers/schoolgate.js';

const README = readFileSync(path.resolve('README.md'), 'utf8');
const BLOCKS = [...README.matchAll(/^```yaml\n([\s\S]*?)^```$/gm)].map((m, i) => ({
  index: i + 1,
  line: README.slice(0, m.index).split('\n').length,
  text: m[1]!,
}));

let dir: string;
let etc: string;

beforeAll(() => {
  dir = tempDir();
  etc = path.join(dir, 'etc-schoolgate');
  mkdirSync(etc, { recursive: true });
  writeFileSync(path.join(etc, 'hosts'), '10.0.0.10 intranet.school.example\n');
  // A 1×1 PNG: the branding example's logo (config check reads it).
  writeFileSync(
    path.join(etc, 'logo.png'),
    Buffer.from(
      'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==',
      'base64',
    ),
  );
  for (const secret of ['smtp.password', 'webhook.secret'])
    writeFileSync(path.join(etc, secret), 'not-a-real-secret\n', { mode: 0o600 });
});

describe('README configuration examples', { timeout: 120_000 }, () => {
  it('the README has configuration examples to check', () => {
    expect(BLOCKS.length).toBeGreaterThanOrEqual(3);
  });

  it.each(BLOCKS)('example $index (README.md line $line) passes config check', async ({ index, text }) => {
    const file = path.join(dir, `example-${index}.yaml`);
    writeFileSync(file, text.replaceAll('/etc/schoolgate/', `${etc}/`));
    // The illegal-content example names its provider's files: a made-up entry in each (never a real one).
    const illegal = path.join(dir, `data-${index}`, 'illegal');
    mkdirSync(illegal, { recursive: true, mode: 0o700 });
    for (const name of ['iwf-url-list.txt', 'ctiru.txt'])
      writeFileSync(path.join(illegal, name), 'illegal-tier-fixture.example\n', { mode: 0o600 });
    const r = await runCli(['config', 'check', file, '--data', path.join(dir, `data-${index}`)]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^ok: .*: \d+ profiles, \d+ categories$/m);
  });
});
