/**
 * Secrets of the sinks (the webhook signing key, the SMTP login): read once from a file or an environment
 * variable, never from the config file itself, and never logged. Error texts that leave a sink pass through
 * a redactor first, so a server that echoes a credential back cannot put it in the log either.
 */
import { readFileSync } from 'node:fs';
import tls from 'node:tls';
import { SchoolgateError } from '../../errors.js';

export interface SecretSource {
  /** The config field, for error messages: 'alerts.webhook.secretFile'. */
  field: string;
  file?: string | undefined;
  env?: string | undefined;
}

/**
 * The secret's value: the file's first line (a trailing newline is ignored) or the variable's value.
 * Throws SG_CONFIG_INVALID naming the file or variable — never the value — when it is missing or empty.
 */
export function readSecret(source: SecretSource, env: NodeJS.ProcessEnv = process.env): string {
  if (source.file !== undefined) {
    let text: string;
    try {
      text = readFileSync(source.file, 'utf8');
    } catch (err) {
      throw new SchoolgateError('SG_CONFIG_INVALID', `${source.field}: cannot read ${source.file}`, {
        context: { field: source.field, file: source.file, cause: (err as NodeJS.ErrnoException).code },
        suggestion: 'Create the file (mode 0600, owned by the user schoolgate runs as) or fix the path.',
      });
    }
    const value = text.replace(/\r?\n$/, '');
    if (value.length === 0 || /[\r\n]/.test(value)) {
      throw new SchoolgateError('SG_CONFIG_INVALID', `${source.field}: ${source.file} must hold one line`, {
        context: { field: source.field, file: source.file },
      });
    }
    return value;
  }
  if (source.env !== undefined) {
    const value = env[source.env];
    if (value === undefined || value.length === 0) {
      throw new SchoolgateError('SG_CONFIG_INVALID', `${source.field}: $${source.env} is not set`, {
        context: { field: source.field, env: source.env },
        suggestion: `Set ${source.env} in the service's environment (e.g. an EnvironmentFile of the unit).`,
      });
    }
    return value;
  }
  throw new SchoolgateError('SG_CONFIG_INVALID', `${source.field}: no file or environment variable given`, {
    context: { field: source.field },
  });
}

/**
 * Replaces every secret (and its base64 and URL-encoded forms, as SMTP AUTH and URLs carry them) in a
 * text with `[redacted]`. Built once per sink.
 */
export function makeRedactor(secrets: readonly string[]): (text: string) => string {
  const forms = new Set<string>();
  for (const s of secrets) {
    if (s.length < 4) continue; // too short to search for without mangling ordinary words; never logged anyway
    forms.add(s);
    forms.add(Buffer.from(s, 'utf8').toString('base64'));
    forms.add(encodeURIComponent(s));
  }
  // Longest first, so a secret contained in another is not half-replaced.
  const list = [...forms].sort((a, b) => b.length - a.length);
  return (text) => {
    let out = text;
    for (const f of list) out = out.split(f).join('[redacted]');
    return out;
  };
}

/** A short, single-line, redacted description of a delivery failure. */
export function describeError(err: unknown, redact: (text: string) => string): string {
  const e = err as { code?: unknown; message?: unknown; responseCode?: unknown };
  const message = typeof e?.message === 'string' ? e.message : String(err);
  const code = typeof e?.code === 'string' && !message.includes(e.code) ? `${e.code}: ` : '';
  return redact(`${code}${message}`).replace(/\s+/g, ' ').trim().slice(0, 300);
}

/**
 * The system's root CAs plus the config's extra CA file (a school's own SMTP or webhook CA), or undefined
 * for the defaults; an unreadable file is a config error naming the field.
 */
export function trustWithCaFile(caFile: string | undefined, field: string): string[] | undefined {
  if (caFile === undefined) return undefined;
  try {
    return [...tls.rootCertificates, readFileSync(caFile, 'utf8')];
  } catch (err) {
    throw new SchoolgateError('SG_CONFIG_INVALID', `${field}: cannot read ${caFile}`, {
      context: { file: caFile, cause: (err as NodeJS.ErrnoException).code },
    });
  }
}
