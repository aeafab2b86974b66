/**
 * `schoolgate config show`: the effective configuration (the file over the embedded defaults, paths
 * resolved) with anything secret-looking redacted, so it can be pasted into a ticket. The schema keeps
 * secrets out of the file (a file or an environment variable names them: alerts.webhook.secretFile,
 * alerts.email.passwordEnv); this is the second line of defence for what a school writes anyway: a key
 * named like a secret, and credentials or query values inside a URL (a webhook's ?token=).
 */
export const REDACTED = '[redacted]';

/** A key whose value is a secret itself, not where one lives (…File, …Env name a file or a variable). */
const SECRET_KEY = /(password|passwd|secret|token|apikey|api_key|privatekey|credential)s?$/i;

export function redactConfig(value: unknown, key = ''): unknown {
  if (Array.isArray(value)) return value.map((v) => redactConfig(v));
  if (value && typeof value === 'object')
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, redactConfig(v, k)]));
  if (typeof value === 'string') {
    if (SECRET_KEY.test(key) && value !== '') return REDACTED;
    return redactUrl(value);
  }
  return value;
}

/** A URL's password and query values replaced; anything that is not an absolute URL unchanged. */
export function redactUrl(text: string): string {
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(text)) return text;
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return text;
  }
  let changed = false;
  if (url.password) {
    url.password = 'redacted';
    changed = true;
  }
  for (const name of [...url.searchParams.keys()]) {
    url.searchParams.set(name, 'redacted');
    changed = true;
  }
  return changed ? url.toString() : text;
}
