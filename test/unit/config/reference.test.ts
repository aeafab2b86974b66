/**
 * docs/configuration.md is generated from the zod schema (src/config/reference.ts): it fails here when the
 * committed file is stale or a field has no description, and the renderer picks up any field added.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { configReferenceMarkdown, REFERENCE_FILE } from '../../../scripts/gen-config-docs.js';
import {
  configJsonSchema,
  fieldsOf,
  REGENERATE_COMMAND,
  renderReference,
  undescribed,
  type SchemaNode,
} from '../../../src/config/reference.js';

describe('the configuration reference', () => {
  it('describes every field of the schema', () => {
    const missing = undescribed(fieldsOf(configJsonSchema()));
    expect(missing, `add a .describe() text to each, then run \`${REGENERATE_COMMAND}\``).toEqual([]);
  });

  it('is up to date in docs/configuration.md', async () => {
    const committed = readFileSync(REFERENCE_FILE, 'utf8');
    const now = await configReferenceMarkdown();
    expect(
      committed === now,
      `docs/configuration.md is stale: the config schema changed. Regenerate it with \`${REGENERATE_COMMAND}\` and commit it.`,
    ).toBe(true);
  });

  it('names each field with its type, bounds, default and description', () => {
    const md = renderReference();
    expect(md).toContain('### `lists.maxInvalidLines`\n\n_whole number · ≥ 0 · default: `5`_\n\n');
    expect(md).toContain('### `profiles.<profile>.youtubeRestrict`\n\n_one of `off`, `moderate`, `strict`');
    expect(md).toContain('### `identity.networks[].cidr`\n\n_string · at least 1 character(s) · required_');
    expect(md).toContain('### `alerts.webhook.url`');
  });

  it('picks up a field added to the schema, and names one without a description', () => {
    const schema = configJsonSchema();
    schema.properties!['branding'] = {
      type: 'object',
      description: 'Block page branding.',
      default: {},
      properties: {
        schoolName: { type: 'string', default: 'Our school', description: 'Shown on block pages.' },
        logoFile: { type: ['string', 'null'], default: null },
      },
    } satisfies SchemaNode;
    expect(renderReference(schema)).toContain(
      '### `branding.schoolName`\n\n_string · default: `"Our school"`_\n\nShown on block pages.',
    );
    expect(undescribed(fieldsOf(schema))).toEqual(['branding.logoFile']);
  });
});
