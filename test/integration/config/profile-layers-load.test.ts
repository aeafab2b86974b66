/**
 * The layered profiles as the proxy loads them (loadPolicy: start, reload, config check): which layer
 * named a category that has no list decides between an error naming the field and a warning.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadPolicy } from '../../../src/app/start.js';
import { SchoolgateError } from '../../../src/errors.js';
import { profileOverridesFile } from '../../../src/lists/profile-overrides.js';
import { testConfig } from '../../helpers/schoolgate.js';

describe('layered profiles at load', () => {
  it('shipped profiles over a categories folder without their categories: warnings, the rest enforced', async () => {
    // The fixture folder has social, streaming, adult and gambling only; the shipped pupil names chat, doh...
    const config = testConfig({ profiles: { pupil: { categories: { social: 'warn' } } } });
    const policy = await loadPolicy(config);
    expect([...policy.profiles.keys()]).toEqual(['pupil', 'staff', 'leadership', 'technician', 'guest']);
    expect(policy.profiles.get('pupil')!.categories).toEqual({
      social: 'warn',
      streaming: 'block',
      adult: 'block',
      gambling: 'block',
    });
    expect(policy.warnings).toContain('shipped profile pupil names category doh, which has no list: ignored');
    expect(policy.warnings.some((w) => w.startsWith('tls.neverInspect.categories (default)'))).toBe(true);
  });

  it('a category the local layer names that has no list stops the load, naming the file', async () => {
    const config = testConfig();
    const file = profileOverridesFile(config.dataDir);
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, 'pupil:\n  categories:\n    vpn: block\n');
    const err = await loadPolicy(config).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SchoolgateError);
    expect((err as SchoolgateError).code).toBe('SG_CATEGORY_UNKNOWN');
    expect((err as SchoolgateError).message).toBe('profiles.pupil.categories: no category "vpn"');
    expect((err as SchoolgateError).context).toMatchObject({ file });
  });

  it('the local layer overrides the config file; a profile it names that does not exist is a warning', async () => {
    const config = testConfig();
    const file = profileOverridesFile(config.dataDir);
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(
      file,
      'staff:\n  categories:\n    social: block\nwizards:\n  categories:\n    social: block\n',
    );
    const policy = await loadPolicy(config);
    expect(policy.profiles.get('staff')!.categories.social).toBe('block');
    expect(policy.profiles.get('pupil')!.categories.social).toBe('block');
    expect(policy.warnings).toContain(`${file}: profile wizards does not exist: ignored`);
  });

  it('a local layer that is not what `profiles set` writes stops the load, naming the file', async () => {
    const config = testConfig();
    const file = profileOverridesFile(config.dataDir);
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, 'staff:\n  categories:\n    social: deny\n');
    await expect(loadPolicy(config)).rejects.toThrow(`${file}: staff.categories.social:`);
  });
});
