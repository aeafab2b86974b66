/** `config show` redacts secrets: keys named like one, URL passwords and query values; never a path. */
import { describe, expect, it } from 'vitest';
import { REDACTED, redactConfig, redactUrl } from '../../../src/config/show.js';
import { validateConfig } from '../../../src/config/load.js';

describe('redactConfig', () => {
  it.each([
    [{ password: 'hunter2' }, { password: REDACTED }],
    [{ smtp: { Password: 'x' } }, { smtp: { Password: REDACTED } }],
    [
      { apiKey: 'k', token: 't', secret: 's', clientSecrets: 'cs' },
      {
        apiKey: REDACTED,
        token: REDACTED,
        secret: REDACTED,
        clientSecrets: REDACTED,
      },
    ],
    // Where a secret lives is not the secret: these stay readable for troubleshooting.
    [
      { secretFile: '/etc/schoolgate/hook.key', passwordEnv: 'SMTP_PASS' },
      {
        secretFile: '/etc/schoolgate/hook.key',
        passwordEnv: 'SMTP_PASS',
      },
    ],
    [{ list: [{ token: 'a' }, 'plain'] }, { list: [{ token: REDACTED }, 'plain'] }],
    [{ password: '' }, { password: '' }],
    [
      { port: 3128, on: true, none: null },
      { port: 3128, on: true, none: null },
    ],
  ])('%j → %j', (input, expected) => {
    expect(redactConfig(input)).toEqual(expected);
  });

  it.each([
    ['https://hooks.example/T0/B0?token=abc&x=1', 'https://hooks.example/T0/B0?token=redacted&x=redacted'],
    ['https://user:pw@smtp.example:465/', 'https://user:redacted@smtp.example:465/'],
    ['https://hooks.example/path', 'https://hooks.example/path'],
    ['not a url ?token=abc', 'not a url ?token=abc'],
    ['/var/lib/schoolgate', '/var/lib/schoolgate'],
  ])('URL %s → %s', (input, expected) => {
    expect(redactUrl(input)).toBe(expected);
  });

  it('keeps every default of a whole config, and changes nothing there is no secret in', () => {
    const config = validateConfig({});
    expect(redactConfig(config)).toEqual(JSON.parse(JSON.stringify(config)));
  });
});
