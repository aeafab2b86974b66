/**
 * Squid-style hosts_file: lines of `address name [name...]`, `#` comments. Names routed here count as
 * deliberately configured, so they may point at intranet or loopback addresses.
 */
import { readFileSync } from 'node:fs';
import ipaddr from 'ipaddr.js';
import { SchoolgateError } from '../errors.js';
import { normaliseHost } from '../policy/host.js';

export function parseHostsFile(text: string, file: string): Map<string, string> {
  const routes = new Map<string, string>();
  text.split(/\r?\n/).forEach((rawLine, index) => {
    const line = rawLine.replace(/#.*/, '').trim();
    if (!line) return;
    const [address, ...names] = line.split(/\s+/);
    if (!address || names.length === 0 || !ipaddr.isValid(address))
      throw new SchoolgateError(
        'SG_HOSTS_FILE_INVALID',
        `${file}:${index + 1}: expected "address name [name...]"`,
        {
          context: { file, line: index + 1 },
          suggestion: 'fix or remove that line (format as /etc/hosts)',
        },
      );
    for (const name of names) routes.set(normaliseHost(name).host, ipaddr.process(address).toString());
  });
  return routes;
}

export function loadHostRoutes(
  hostsFile: string | null,
  inline: Readonly<Record<string, string>>,
): Map<string, string> {
  const routes = new Map<string, string>();
  if (hostsFile) {
    let text: string;
    try {
      text = readFileSync(hostsFile, 'utf8');
    } catch (err) {
      throw new SchoolgateError('SG_HOSTS_FILE_INVALID', `cannot read hosts file ${hostsFile}`, {
        context: { file: hostsFile },
        suggestion: 'check the path given to --hosts-file or hostsFile',
        cause: err,
      });
    }
    for (const [name, address] of parseHostsFile(text, hostsFile)) routes.set(name, address);
  }
  for (const [name, address] of Object.entries(inline))
    routes.set(normaliseHost(name).host, ipaddr.process(address).toString());
  return routes;
}
