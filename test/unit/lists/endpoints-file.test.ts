import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadEndpoints, parseEndpointsYaml } from '../../../src/lists/endpoints-file.js';

function localDir(yaml: string): string {
  const dir = path.join(mkdtempSync(path.join(tmpdir(), 'sg-endpoints-')), 'categories.local');
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'endpoints.yaml'), yaml);
  return dir;
}

describe('the endpoint table files', () => {
  it('a school adds an endpoint and replaces a shipped one in its local layer', async () => {
    const table = await loadEndpoints(
      localDir(
        [
          'school-search:',
          '  kind: search',
          '  hosts: [search.school.example]',
          '  paths: [/find]',
          '  params: [terms]',
          'google:',
          '  kind: search',
          "  hosts: ['www.google.{tld}']",
          '  paths: [/search]',
          '  params: [q]',
          '  safeSearch: { param: safe, value: strict }',
        ].join('\n'),
      ),
    );
    expect(table.match({ host: 'search.school.example', path: '/FIND/?terms=x' })?.spec.name).toBe(
      'school-search',
    );
    expect(table.match({ host: 'www.google.com', path: '/search?q=x' })?.spec.safeSearch?.value).toBe(
      'strict',
    );
    expect(table.match({ host: 'google.com', path: '/search?q=x' })).toBeNull(); // replaced whole
    expect(table.match({ host: 'web.archive.org', path: '/web/1/x' })?.spec.name).toBe('wayback-machine');
  });

  it('no local file: the shipped table alone', async () => {
    const table = await loadEndpoints(path.join(tmpdir(), 'no-such-local-layer-dir'));
    expect(table.specs.map((s) => s.name)).toContain('google-translate');
  });

  it.each([
    [
      'an unknown field',
      'x:\n  kind: search\n  hosts: [a.example]\n  paths: [/]\n  params: [q]\n  safesearch: {}\n',
      /x.*safesearch|Unrecognized/,
    ],
    [
      'a bad host pattern',
      'x:\n  kind: search\n  hosts: [a..example]\n  paths: [/]\n  params: [q]\n',
      /hosts\.0.*not a host pattern/,
    ],
    [
      'a translator without a target',
      'x:\n  kind: translate\n  hosts: [a.example]\n  paths: [/]\n  params: [u]\n',
      /need a target/,
    ],
    [
      'a bad regular expression',
      'x:\n  kind: archive\n  hosts: [a.example]\n  paths: [/*]\n  target: path\n  skipSegment: "("\n',
      /not a regular expression/,
    ],
    ['not YAML', 'x: [\n', /not valid YAML/],
  ])('%s is SG_ENDPOINTS_INVALID naming the file and line', (_why, yaml, message) => {
    let caught: unknown;
    try {
      parseEndpointsYaml(`# header\n${yaml}`, 'local/endpoints.yaml');
    } catch (err) {
      caught = err;
    }
    expect(caught).toMatchObject({ code: 'SG_ENDPOINTS_INVALID', message: expect.stringMatching(message) });
    expect((caught as Error).message).toMatch(/^local\/endpoints\.yaml:\d+/);
  });

  it('a missing shipped table refuses to load', async () => {
    await expect(
      loadEndpoints(undefined, path.join(tmpdir(), 'missing-endpoints.yaml')),
    ).rejects.toMatchObject({
      code: 'SG_ENDPOINTS_INVALID',
    });
  });
});
