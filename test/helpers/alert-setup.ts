/**
 * Config pieces the alert tests share: a category of the test's own marked `alert: true` (like the shipped
 * extremism list), and the `alerts.email` block for a loopback SMTP receiver (STARTTLS on the receiver's
 * throwaway certificate, AUTH with a password read from a 0600 file, as a school would set it up).
 */
import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { ConfigInput } from '../../src/config/schema.js';

type EmailInput = NonNullable<NonNullable<ConfigInput['alerts']>['email']>;

/** Adds category `name` with these domains, flagged and marked `alert`, to a fixture categories folder. */
export function addAlertCategory(
  categoriesDir: string,
  name: string,
  title: string,
  domains: string[],
): void {
  mkdirSync(path.join(categoriesDir, name));
  writeFileSync(path.join(categoriesDir, name, 'domains'), `${domains.join('\n')}\n`);
  appendFileSync(
    path.join(categoriesDir, 'categories.yaml'),
    `${name}:\n  title: ${title}\n  description: fixture\n  flagged: true\n  alert: true\n`,
  );
}

/** `alerts.email` for a loopback receiver on `port`; the password goes to a file in `dir`. */
export function loopbackEmailSink(opts: {
  dir: string;
  port: number;
  caFile: string;
  user: string;
  pass: string;
  extra?: Partial<EmailInput>;
}): EmailInput {
  const passwordFile = path.join(opts.dir, 'smtp.pass');
  writeFileSync(passwordFile, opts.pass, { mode: 0o600 });
  return {
    host: '127.0.0.1',
    port: opts.port,
    caFile: opts.caFile,
    from: 'Schoolgate <schoolgate@school.test>',
    to: ['dsl@school.test'],
    user: opts.user,
    passwordFile,
    ...opts.extra,
  };
}
