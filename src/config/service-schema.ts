/**
 * Config of schoolgate as a service (issue 14 item 5): the text access log, the nightly purge, the PAC
 * file's DIRECT list, a parent proxy, and the school's branding on its pages. Kept apart from schema.ts so
 * each part stays readable; schema.ts composes them.
 */
import { z } from 'zod';
import { bypassProblem } from '../proxy/pages/pac.js';

export const accessLogSchema = z
  .strictObject({
    path: z
      .string()
      .min(1)
      .nullable()
      .default(null)
      .describe(
        'A text access log, one line per request or tunnel, to `tail -f` while troubleshooting (e.g. ' +
          '/var/log/schoolgate/access.log; relative paths are against the config file). null (default): ' +
          'none. The audit database stays the record; the log is a copy that never delays a request. ' +
          'Opened for appending, so logrotate copytruncate is safe; SIGUSR1 reopens it after a rename. ' +
          'Its lines name people and what they asked for: it is created owner-only (0600).',
      ),
    format: z
      .enum(['squid', 'json'])
      .default('squid')
      .describe(
        "`squid`: Squid's native access.log format (time.ms elapsed client code/status bytes method URL " +
          'user hierarchy/peer type), read by the tools that read Squid logs. `json`: one JSON object a ' +
          'line, with the profile, categories, rule and reason as well.',
      ),
  })
  .prefault({})
  .describe('The text access log (Squid format or JSON lines).');

export const pacSchema = z
  .strictObject({
    direct: z
      .array(
        z.string().superRefine((entry, ctx) => {
          const problem = bypassProblem(entry);
          if (problem) ctx.addIssue({ code: 'custom', message: `"${entry}": ${problem}` });
        }),
      )
      .default([])
      .describe(
        'Hosts and networks that /proxy.pac sends DIRECT instead of through the proxy (the intranet, the ' +
          'learning platform on the school network): a host name (`intranet.school.local`), a domain and ' +
          'its subdomains (`.school.local`), or an IPv4 network (`10.20.0.0/16`). Unqualified names ' +
          '(no dot) always go DIRECT. Only devices that use the PAC file are affected: what goes DIRECT ' +
          'is neither filtered nor recorded, so list only the school’s own servers.',
      ),
  })
  .prefault({})
  .describe('The proxy auto-configuration file served at /proxy.pac.');

const proxyUrl = z
  .string()
  .regex(
    /^http:\/\/[^/@\s]+:\d{1,5}\/?$/,
    'expected http://host:port (a parent proxy reached over plain HTTP, no user or path)',
  );

export const upstreamSchema = z
  .strictObject({
    proxy: proxyUrl
      .nullable()
      .default(null)
      .describe(
        "A parent proxy every allowed request and tunnel goes through (the local authority's filter), as " +
          'http://host:port. Requests are forwarded to it in absolute form and tunnels opened with ' +
          'CONNECT; schoolgate still decides, records and inspects first. null (default): straight to ' +
          'the origin. Names are then resolved by the parent, so hostsFile routes do not apply.',
      ),
  })
  .prefault({})
  .describe('A parent (upstream) proxy.');

export const brandingSchema = z
  .strictObject({
    schoolName: z
      .string()
      .max(120)
      .default('')
      .describe('The school’s name, shown at the top of block and warn pages. Empty: none.'),
    logoFile: z
      .string()
      .min(1)
      .nullable()
      .default(null)
      .describe(
        'A logo for block and warn pages (PNG, JPEG, GIF or WebP, at most 64 KiB), served by the proxy ' +
          'at /schoolgate-logo and inlined in the pages. Its type is read from its bytes, not its name; SVG is refused (it can carry script). Read at start and reload. null: none.',
      ),
    contact: z
      .string()
      .max(300)
      .default('')
      .describe(
        'A line on block and warn pages saying whom to ask (e.g. "Ask Mr Patel in IT, room 12, or ' +
          'email it@school.example"). Empty: none.',
      ),
  })
  .prefault({})
  .describe('What block and warn pages show of the school.');
