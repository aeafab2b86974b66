/**
 * Intl.DateTimeFormat instances, built once per locale, option set and time zone. Building one costs far
 * more than using it (ICU loads its patterns: a fraction of a millisecond of CPU and native memory that only
 * a later GC finaliser returns), so building one per page made 2,000 idle connections timing out together
 * (2,000 error pages in one turn) stall the proxy for seconds and left the RSS ~100 MB higher.
 */
const formats = new Map<string, Intl.DateTimeFormat>();
/** Time zones come from the config (one, or a few in tests): the bound only guards against a surprise. */
const MAX_FORMATS = 256;

/** A cached formatter; throws RangeError for an unknown time zone, like the constructor (never cached). */
export function dateTimeFormat(locale: string, options: Intl.DateTimeFormatOptions): Intl.DateTimeFormat {
  const key = `${locale}\u0000${JSON.stringify(options)}`;
  let format = formats.get(key);
  if (format === undefined) {
    format = new Intl.DateTimeFormat(locale, options);
    if (formats.size >= MAX_FORMATS) formats.delete(formats.keys().next().value!);
    formats.set(key, format);
  }
  return format;
}

/** Formatters held now (tests). */
export function cachedFormatCount(): number {
  return formats.size;
}
