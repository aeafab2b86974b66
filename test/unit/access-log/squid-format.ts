/**
 * Squid's native access.log line, one regex per field as Squid documents it (logformat squid:
 * `%ts.%03tu %6tr %>a %Ss/%03>Hs %<st %rm %ru %[un %Sh/%<a %mt`). Shared by the unit and serve tests.
 */
export const SQUID_FIELDS = {
  time: /^\d{9,}\.\d{3}$/, // %ts.%03tu: Unix seconds, dot, three-digit milliseconds
  elapsed: /^\d+$/, // %6tr: milliseconds (right-aligned in six columns)
  client: /^(\d{1,3}(\.\d{1,3}){3}|[0-9a-f:]+)$/i, // %>a: client address
  codeStatus: /^[A-Z]+(_[A-Z]+)*\/\d{3}$/, // %Ss/%03>Hs: e.g. TCP_MISS/200, TCP_DENIED/403
  bytes: /^\d+$/, // %<st: bytes sent to the client
  method: /^[A-Z]+$/, // %rm
  url: /^\S+$/, // %ru: no whitespace
  user: /^(-|\S+)$/, // %[un
  hierarchy: /^[A-Z_]+\/\S+$/, // %Sh/%<a: e.g. HIER_DIRECT/host, HIER_NONE/-
  type: /^(-|\S+\/\S+)$/, // %mt: content type or -
} as const;

export type SquidFields = Record<keyof typeof SQUID_FIELDS, string>;

/** Splits a line into Squid's ten fields (the elapsed field's padding is whitespace) and checks each. */
export function parseSquidLine(line: string): SquidFields {
  const parts = line.trim().split(/ +/);
  const names = Object.keys(SQUID_FIELDS) as (keyof typeof SQUID_FIELDS)[];
  if (parts.length !== names.length)
    throw new Error(`expected ${names.length} fields, got ${parts.length}: ${line}`);
  const out = {} as SquidFields;
  names.forEach((name, i) => {
    const value = parts[i]!;
    if (!SQUID_FIELDS[name].test(value))
      throw new Error(`field ${name} "${value}" is not Squid's format: ${line}`);
    out[name] = value;
  });
  return out;
}
