/** Parses a `Proxy-Authorization: Basic ...` header. Returns null when absent, 'malformed' when unusable. */
export function parseBasicCredentials(
  header: string | undefined,
): { user: string; password: string } | null | 'malformed' {
  if (header === undefined) return null;
  const match = /^Basic[ ]+([A-Za-z0-9+/=]+)\s*$/i.exec(header);
  if (!match) return 'malformed';
  const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon <= 0) return 'malformed';
  return { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}
