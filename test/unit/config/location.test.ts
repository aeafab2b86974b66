/** Which config file a command uses: --config, SCHOOLGATE_CONFIG, /etc/schoolgate/config.yaml, defaults. */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_CONFIG_PATH,
  describeLocation,
  locateConfig,
  type ConfigLocation,
} from '../../../src/config/location.js';

const present = () => true;
const absent = () => false;

describe('locateConfig', () => {
  it.each<[string, string | undefined, NodeJS.ProcessEnv, (f: string) => boolean, ConfigLocation]>([
    [
      '--config wins over all',
      'my.yaml',
      { SCHOOLGATE_CONFIG: '/srv/sg.yaml' },
      present,
      {
        file: path.resolve('my.yaml'),
        source: 'option',
      },
    ],
    [
      'then the variable',
      undefined,
      { SCHOOLGATE_CONFIG: '/srv/sg.yaml' },
      present,
      {
        file: '/srv/sg.yaml',
        source: 'env',
      },
    ],
    [
      'a relative variable is resolved',
      undefined,
      { SCHOOLGATE_CONFIG: 'sg.yaml' },
      absent,
      {
        file: path.resolve('sg.yaml'),
        source: 'env',
      },
    ],
    [
      'an empty variable is unset',
      undefined,
      { SCHOOLGATE_CONFIG: '' },
      present,
      {
        file: DEFAULT_CONFIG_PATH,
        source: 'default-path',
      },
    ],
    [
      'then /etc/schoolgate/config.yaml if it exists',
      undefined,
      {},
      present,
      {
        file: DEFAULT_CONFIG_PATH,
        source: 'default-path',
      },
    ],
    ['else the built-in defaults', undefined, {}, absent, { file: null, source: 'built-in' }],
  ])('%s', (_name, option, env, exists, expected) => {
    expect(locateConfig(option, env, exists)).toEqual(expected);
  });

  it('only ever asks about the default path', () => {
    const asked: string[] = [];
    locateConfig(undefined, {}, (f) => (asked.push(f), false));
    expect(asked).toEqual([DEFAULT_CONFIG_PATH]);
  });

  it('says which file and why', () => {
    expect(describeLocation({ file: '/srv/sg.yaml', source: 'env' })).toBe(
      '/srv/sg.yaml (SCHOOLGATE_CONFIG)',
    );
    expect(describeLocation({ file: null, source: 'built-in' })).toMatch(/^built-in defaults/);
  });
});
