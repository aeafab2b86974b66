/**
 * The user search filter: `{user}` in the configured template replaced by the typed name, escaped as
 * RFC 4515 says (ldapts' Filter.escape: `*` `(` `)` `\` and NUL become `\XX`), so a name like `*` or
 * `x)(uid=*` matches only an entry literally called that.
 */
import { Filter } from 'ldapts';

export function userFilter(template: string, user: string): string {
  const escaped = Filter.escape(user);
  // split/join, not replace(): a `$&` in the name must not be read as a replacement pattern.
  return template.split('{user}').join(escaped);
}
