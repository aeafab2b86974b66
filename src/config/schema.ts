/**
 * The configuration schema: the one place defaults live. Unknown keys are errors (strictObject), so a typo
 * in a school's config fails loudly instead of being silently ignored (e2guardian's failure mode).
 */
import { z } from 'zod';
import { alertsSchema } from '../alerts/config.js';
import { DEFAULT_PROFILES, NEVER_INSPECT_HOSTS } from './default-profiles.js';

const action = z.enum(['allow', 'warn', 'block']);
const weekday = z.enum(['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun']);
const clock = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'expected a time as HH:MM (24-hour)');
const cidr = z.string().min(1);
const port = z.number().int().min(1).max(65535);

const timeWindow = z.strictObject({
  name: z.string().min(1),
  days: z.array(weekday).min(1),
  from: clock,
  to: clock,
  categories: z.record(z.string(), action),
});

export const profileSchema = z.strictObject({
  description: z.string().default(''),
  default: action.default('allow'),
  categories: z.record(z.string(), action).default({}),
  allow: z.array(z.string()).default([]),
  deny: z.array(z.string()).default([]),
  ipLiterals: action.default('block'),
  timeWindows: z.array(timeWindow).default([]),
  /** HTTPS inspection (TLS terminated with the school CA) for this profile; off = host-level decisions only. */
  inspect: z.boolean().default(true),
  /** Categories never inspected for this profile, on top of tls.neverInspect.categories. */
  neverInspect: z.array(z.string()).default([]),
  /**
   * Whether a tunnel that is not inspected may carry something other than TLS (SSH, a VPN, plain HTTP on
   * port 443). Off: such a tunnel is closed once its first bytes show it is not TLS. Inside a tunnel that
   * is inspected only TLS we terminate ever passes, whatever this says.
   */
  tunnelNonTls: z.boolean().default(false),
  /** Force SafeSearch (Google, Bing, DuckDuckGo): a rewrite when inspected, a host mapping when not. */
  safeSearch: z.boolean().default(true),
  /** YouTube restricted mode: the YouTube-Restrict header when inspected, restrict.youtube.com when not. */
  youtubeRestrict: z.enum(['off', 'moderate', 'strict']).default('strict'),
});

const network = z.strictObject({ cidr, profile: z.string().min(1), name: z.string().optional() });
const device = z.strictObject({
  address: z.string().min(1),
  name: z.string().min(1),
  user: z.string().min(1).optional(),
  profile: z.string().min(1).optional(),
});

export const configSchema = z.strictObject({
  listen: z
    .strictObject({
      host: z.string().default('0.0.0.0'),
      port: z.number().int().min(0).max(65535).default(3128),
    })
    .default({ host: '0.0.0.0', port: 3128 }),
  /** The name browsers use to reach the proxy; used in the PAC file and to recognise requests to itself. */
  proxyName: z.string().default('schoolgate.local'),
  dataDir: z.string().default('data'),
  categoriesDir: z.string().default('categories'),
  timeZone: z.string().default('Europe/London'),
  /** Only these clients may use the proxy: never an open proxy. */
  clientNetworks: z
    .array(cidr)
    .default(['127.0.0.0/8', '::1/128', '10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', 'fc00::/7']),
  /** The technician's machines: only these may read `/metrics` on the proxy port. */
  admin: z
    .strictObject({
      networks: z.array(cidr).default(['127.0.0.0/8', '::1/128']),
    })
    .prefault({}),
  /** Ports CONNECT may tunnel to (Squid's SSL_ports). */
  tunnelPorts: z.array(port).default([443]),
  /** Ports absolute-form HTTP requests may be forwarded to (Squid's Safe_ports, trimmed). */
  httpPorts: z.array(port).default([80, 8080]),
  /** Squid-style hosts_file: names routed to the addresses it gives (deliberate routes may be private). */
  hostsFile: z.string().nullable().default(null),
  /** Inline routes, same meaning as the hosts file: name → address. */
  hosts: z.record(z.string(), z.string()).default({}),
  identity: z
    .strictObject({
      /** Basic proxy authentication against the users table. */
      basicAuth: z.boolean().default(false),
      /** With basicAuth on: clients that send no credentials get 407 (true) or fall through to address mapping. */
      requireAuth: z.boolean().default(false),
      realm: z.string().default('schoolgate'),
      networks: z.array(network).default([]),
      devices: z.array(device).default([]),
      guestProfile: z.string().default('guest'),
    })
    .prefault({}),
  profiles: z.record(z.string(), profileSchema).default(DEFAULT_PROFILES),
  warn: z
    .strictObject({
      /** Minutes a Continue lasts; null means until the end of the school day. */
      continueMinutes: z.number().int().positive().nullable().default(null),
      schoolDayEnd: clock.default('16:00'),
    })
    .prefault({}),
  /** How list files are judged when they are loaded (start, reload, `config check`) or imported. */
  lists: z
    .strictObject({
      maxInvalidLines: z
        .number()
        .int()
        .min(0)
        .default(5)
        .describe(
          "A list file (a category's domains or urls, shipped or local, or a `lists import` source) is " +
            'refused whole when more of its entry lines (neither blank nor comments) are invalid than the ' +
            'larger of maxInvalidLines and maxInvalidShare × its entry lines. Default 5 lines or 1%, ' +
            'whichever is larger: a typo or two in a small file loads with a warning, a corrupted file, an ' +
            'error page or a list in the wrong format does not. A refused file keeps the old lists serving ' +
            '(reload), stops `serve` from starting, and makes `lists import` write nothing unless --force. ' +
            'A file that is not UTF-8 text (binary data, NUL bytes) is refused whatever these say.',
        ),
      maxInvalidShare: z
        .number()
        .min(0)
        .max(1)
        .default(0.01)
        .describe("Share (0-1) of a list file's entry lines that may be invalid; see maxInvalidLines."),
      maxShrinkShare: z
        .number()
        .min(0)
        .max(1)
        .default(0.2)
        .describe(
          'A reload that would leave a category with fewer shipped entries than the running lists by more ' +
            'than this share (0-1) is refused unless `schoolgate reload --force`: a truncated or emptied ' +
            'list file is far more often an accident than a policy. Default 0.2 (20%); 1 turns the check ' +
            'off. Only the shipped files count: edits through `schoolgate lists` (the local layer) are ' +
            'deliberate, validated and recorded.',
        ),
    })
    .prefault({}),
  audit: z
    .strictObject({
      batchMaxRows: z.number().int().min(1).max(100_000).default(1000),
    })
    .prefault({}),
  /** Investigations: who may pull per-person reports, and how long audit rows are kept. */
  reports: z
    .strictObject({
      /**
       * OS accounts allowed to pull reports and manage cases (the headteacher's and DSL's accounts on the
       * server). null: only the OS user that owns the data directory (the one who installed it).
       */
      allowedOsUsers: z.array(z.string().min(1)).nullable().default(null),
      /** `audit purge` deletes rows older than this, except those held by an open case. */
      retentionDays: z.number().int().min(1).max(36_500).default(365),
    })
    .prefault({}),
  limits: z
    .strictObject({
      headersTimeoutMs: z.number().int().positive().default(20_000),
      requestTimeoutMs: z.number().int().positive().default(120_000),
      /**
       * An origin silent this long (no response head, or a pause in its body) gets the client a 504 page
       * (the outcome says 504); a refused or reset connection is a 502.
       */
      upstreamTimeoutMs: z.number().int().positive().default(30_000),
      keepAliveTimeoutMs: z.number().int().positive().default(5_000),
      connectTimeoutMs: z.number().int().positive().default(10_000),
      tunnelIdleTimeoutMs: z.number().int().positive().default(300_000),
      maxConnections: z.number().int().positive().default(10_000),
      /**
       * On stop (SIGTERM): how long requests, downloads, tunnels and WebSockets in flight may go on before
       * they are cut. Their outcomes are written either way.
       */
      shutdownGraceMs: z.number().int().min(0).default(10_000),
      /** Open connections one client address may hold (hostile-inputs E03); more are closed at once. */
      maxConnectionsPerClient: z.number().int().positive().default(256),
    })
    .prefault({}),
  tls: z
    .strictObject({
      /** Master switch for HTTPS inspection; profiles choose with their own `inspect` too. */
      inspect: z.boolean().default(true),
      /** Where the school CA lives (schoolgate-ca.crt, schoolgate-ca.key). */
      certsDir: z.string().default('certs'),
      /** Extra PEM files of CAs trusted for upstream servers, on top of the system store and NODE_EXTRA_CA_CERTS. */
      extraCaFiles: z.array(z.string()).default([]),
      /** Days a leaf certificate is valid; short on purpose (re-signed from cache when near expiry). */
      leafValidityDays: z.number().int().min(1).max(90).default(7),
      /** Leaf certificates kept in memory (one per host). */
      leafCacheSize: z.number().int().min(16).max(1_000_000).default(5_000),
      leafDiskCacheSize: z
        .number()
        .int()
        .min(0)
        .max(1_000_000)
        .default(5_000)
        .describe(
          'Leaf certificates kept on disk in <dataDir>/leaves (owner-only, with the shared leaf key) so a restart serves the busiest hosts without signing them again; the least recently used beyond this many are removed. 0 keeps none and makes a new leaf key at every start.',
        ),
      /** Time allowed for a client's ClientHello and handshake after 200 Connection Established. */
      handshakeTimeoutMs: z.number().int().positive().default(10_000),
      /** Never inspected, for every profile: categories (banking, health) and hosts (certificate-pinned apps). */
      neverInspect: z
        .strictObject({
          categories: z.array(z.string()).default(['banking', 'health']),
          hosts: z.array(z.string()).default([...NEVER_INSPECT_HOSTS]),
        })
        .prefault({}),
    })
    .prefault({}),
  /** Safeguarding alerts to the DSL (src/alerts/): rules, windows, digest, webhook and e-mail. */
  alerts: alertsSchema.prefault({}),
  log: z
    .strictObject({ level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace']).default('info') })
    .prefault({}),
  /** `schoolgate selftest`: sites that must stay reachable for every profile, and extra probes. */
  selftest: z
    .strictObject({
      /** Help lines, search engines and the school's own platforms (add the learning platform here). */
      mustReach: z
        .array(z.string().min(1))
        .default([
          'http://www.childline.org.uk/',
          'http://www.samaritans.org/',
          'http://www.google.co.uk/',
          'http://www.bing.com/',
        ]),
      /** category → probe URLs; categories not named here are probed with their first listed domain. */
      probes: z.record(z.string(), z.array(z.string().min(1))).default({}),
    })
    .prefault({}),
});

export type ConfigInput = z.input<typeof configSchema>;
export type Config = z.output<typeof configSchema>;
export type ProfileConfig = z.output<typeof profileSchema>;
