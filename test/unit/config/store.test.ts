/** `store:` in the config: SQLite by default, PostgreSQL by URL or by parts, with the password from a file. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { connectOptions, nodeName, storeSchema } from '../../../src/audit/postgres/config.js';
import { configSchema } from '../../../src/config/schema.js';

describe('store config', () => {
  it('is sqlite when not given', () => {
    expect(configSchema.parse({}).store).toBe('sqlite');
  });

  it('takes a postgres URL and a node name', () => {
    const store = storeSchema.parse({
      postgres: { url: 'postgres://sg@db.trust.test:5432/audit', node: 'school-a' },
    });
    expect(store).toMatchObject({
      postgres: { url: 'postgres://sg@db.trust.test:5432/audit', node: 'school-a', tls: false },
    });
    if (store === 'sqlite') throw new Error('parsed as sqlite');
    expect(connectOptions(store.postgres)).toEqual({
      connectionString: 'postgres://sg@db.trust.test:5432/audit',
    });
    expect(nodeName(store.postgres)).toBe('school-a');
  });

  it('refuses postgres with neither a URL nor host and database, and unknown keys', () => {
    expect(storeSchema.safeParse({ postgres: { host: 'db' } }).success).toBe(false);
    expect(storeSchema.safeParse({ postgres: { url: 'mysql://x' } }).success).toBe(false);
    expect(storeSchema.safeParse({ postgres: { url: 'postgres://x/y', pasword: 'oops' } }).success).toBe(
      false,
    );
  });

  it('reads the password from its file and the CA for TLS', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'sg-store-config-'));
    try {
      writeFileSync(path.join(dir, 'pw'), 's3cret\n', { mode: 0o600 });
      writeFileSync(path.join(dir, 'ca.pem'), 'PEM', { mode: 0o600 });
      const store = storeSchema.parse({
        postgres: {
          host: 'db',
          database: 'audit',
          user: 'sg',
          passwordFile: path.join(dir, 'pw'),
          tls: { caFile: path.join(dir, 'ca.pem') },
        },
      });
      if (store === 'sqlite') throw new Error('parsed as sqlite');
      expect(connectOptions(store.postgres)).toEqual({
        host: 'db',
        port: 5432,
        database: 'audit',
        user: 'sg',
        password: 's3cret',
        ssl: { ca: 'PEM' },
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
