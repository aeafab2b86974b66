/**
 * The lists built on a worker thread (src/lists/load-off-thread.ts) match exactly as the lists built on
 * this thread: the same fixture folder loaded both ways, then a table of targets covering every kind of
 * entry (domain and its subdomains, exact-host suffix entries, IPs, URL rules with their boundaries, regex
 * rules, the local layer) must give the same matches, counts and warnings. Needs the build (`npm test`
 * builds first): the worker is compiled JavaScript.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { isSchoolgateError } from '../../../src/errors.js';
import { loadCategories } from '../../../src/lists/load.js';
import { listsWorkerBuilt, loadCategoriesOffThread } from '../../../src/lists/load-off-thread.js';
import { parseAbsoluteTarget } from '../../../src/policy/target.js';
import { tempDir } from '../../helpers/schoolgate.js';

const CATEGORIES: Record<string, { domains?: string[]; urls?: string[]; expressions?: string[] }> = {
  adult: {
    domains: ['example.org', 'blocked.example', '10.1.2.3', '2001:db8::7', 'github.io', 'not a domain!'],
    urls: ['video.test/watch?v=abc', 'example.net/Dir', 'files.test/share/', '10.9.9.9/admin'],
  },
  social: {
    domains: ['example.org', 'shop.example.org', 'facebook.com', 'xn--bcher-kva.example', 'bücher2.example'],
    urls: ['example.net/dir/sub', 'whole.test'],
  },
  gambling: { domains: ['bet.test'], expressions: ['casino[0-9]+\\.', '^poker\\.'] },
};

function writeLists(dir: string): string {
  const meta: string[] = [];
  for (const [name, files] of Object.entries(CATEGORIES)) {
    mkdirSync(path.join(dir, name), { recursive: true });
    for (const [file, lines] of Object.entries(files))
      writeFileSync(path.join(dir, name, file), `# fixture\n${lines.join('\n')}\n`);
    meta.push(`${name}:\n  title: ${name}\n  description: fixture\n  flagged: false\n  alert: false`);
  }
  writeFileSync(path.join(dir, 'categories.yaml'), `${meta.join('\n')}\n`);
  return dir;
}

const URLS = [
  'http://example.org/',
  'http://www.example.org/x',
  'http://a.b.shop.example.org/',
  'http://notexample.org/',
  'http://blocked.example/',
  'http://github.io/',
  'http://someone.github.io/',
  'http://10.1.2.3/',
  'http://10.1.2.4/',
  'http://[2001:db8::7]/',
  'http://video.test/watch?v=abc',
  'http://video.test/watch?v=abc&t=1',
  'http://video.test/watch?v=abcd',
  'http://www.video.test/watch?v=abc',
  'http://example.net/dir',
  'http://example.net/DIR/x',
  'http://example.net/directory',
  'http://example.net/dir/sub?q=1',
  'http://files.test/share/anything',
  'http://files.test/shared',
  'http://10.9.9.9/admin/panel',
  'http://10.9.9.9/other',
  'http://whole.test/any/path',
  'http://m.facebook.com/',
  'http://xn--bcher-kva.example/',
  'http://www.xn--bcher2-3ya.example/',
  'http://casino77.example/',
  'http://poker.test/',
  'http://bet.test/',
  'http://unlisted.invalid/',
];

describe('lists built on a worker thread', () => {
  it('needs the compiled worker (npm run build)', () => {
    expect(listsWorkerBuilt()).toBe(true);
  });

  it('match every kind of entry exactly as lists built on this thread', async () => {
    const dir = writeLists(path.join(tempDir(), 'categories'));
    const limits = { maxInvalidLines: 10, maxInvalidShare: 0.5 };
    const here = await loadCategories(dir, { limits });
    const there = await loadCategoriesOffThread(dir, { limits });
    expect([...there.lists.categories.keys()]).toEqual([...here.lists.categories.keys()]);
    expect(there.counts).toEqual(here.counts);
    expect(there.warnings).toEqual(here.warnings);
    expect(there.warnings.some((w) => w.includes('not a domain!'))).toBe(true);
    let matched = 0;
    for (const url of URLS) {
      const target = parseAbsoluteTarget(url);
      const expected = here.lists.match(target);
      expect({ url, matches: there.lists.match(target) }).toEqual({ url, matches: expected });
      if (expected.length > 0) matched++;
    }
    // The table is only a check if most of it matches something (and some of it nothing).
    expect(matched).toBeGreaterThan(20);
    expect(matched).toBeLessThan(URLS.length);
  });

  it("raises a broken file's own SG code, as a load on this thread does", async () => {
    const dir = writeLists(path.join(tempDir(), 'categories'));
    writeFileSync(path.join(dir, 'social', 'domains'), Buffer.from([0x61, 0x00, 0xff, 0xfe, 0x0a]));
    const codeOf = (p: Promise<unknown>) =>
      p.then(
        () => 'loaded',
        (err: unknown) => (isSchoolgateError(err) ? err.code : String(err)),
      );
    const here = await codeOf(loadCategories(dir));
    expect(here).toBe('SG_LIST_FILE_INVALID');
    expect(await codeOf(loadCategoriesOffThread(dir))).toBe(here);
  });

  it('is SG_LIST_WORKER_FAILED when the worker stops without an answer', async () => {
    const dir = writeLists(path.join(tempDir(), 'categories'));
    const load = loadCategoriesOffThread(dir, {}, { hold: (worker) => worker.terminate() });
    await expect(load).rejects.toMatchObject({ code: 'SG_LIST_WORKER_FAILED' });
  });
});
