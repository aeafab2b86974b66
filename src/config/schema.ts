/**
 * The configuration schema: the one place defaults live. Unknown keys are errors (strictObject), so a typo
 * in a school's config fails loudly instead of being silently ignored (e2guardian's failure mode).
 */
import { z } from 'zod';
import { alertsSchema } from '../alerts/config.js';
import { consoleSchema } from '../console/config.js';
import { ldapSchema } from '../identity/ldap/config.js';
import { storeSchema } from '../audit/postgres/config.js';
import { DEFAULT_PROFILES, NEVER_INSPECT_HOSTS } from './default-profiles.js';
import { configLayer } from './profile-layers.js';
import { listSourceSchema, UT1_SOURCE } from '../lists/update/config.js';
import { accessLogSchema, brandingSchema, pacSchema, upstreamSchema } from './service-schema.js';

const action = z.enum(['allow', 'warn', 'block']);
const weekday = z.enum(['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun']);
const clock = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'expected a time as HH:MM (24-hour)');
const cidr = z.string().min(1);
const port = z.number().int().min(1).max(65535);

const timeWindow = z.strictObject({
  name: z.string().min(1).describe('A name for the window, shown by `explain` and in the audit rule.'),
  days: z.array(weekday).min(1).describe('The weekdays it applies on: mon, tue, wed, thu, fri, sat, sun.'),
  from: clock.describe('Start, HH:MM local time (timeZone), inclusive.'),
  to: clock.describe('End, HH:MM local time, exclusive.'),
  categories: z
    .record(z.string(), action)
    .describe('category → allow, warn or block while the window is open, over the profile’s own.'),
});

export const profileSchema = z.strictObject({
  description: z
    .string()
    .default('')
    .describe('What the profile is for, shown by `explain` and the reports.'),
  default: action
    .default('allow')
    .describe('What happens to a site in no category this profile names: allow, warn or block.'),
  categories: z
    .record(z.string(), action)
    .default({})
    .describe('category → allow, warn or block. Every name must be a category that exists.'),
  allow: z
    .array(z.string())
    .default([])
    .describe('Entries (domains or URL prefixes) always allowed for this profile, whatever their category.'),
  deny: z
    .array(z.string())
    .default([])
    .describe('Entries (domains or URL prefixes) always blocked for this profile.'),
  ipLiterals: action
    .default('block')
    .describe('Requests to a bare IP address (no name to categorise): allow, warn or block.'),
  timeWindows: z
    .array(timeWindow)
    .default([])
    .describe('Times when some categories are treated differently (e.g. games allowed at lunch).'),
  inspect: z
    .boolean()
    .default(true)
    .describe(
      'HTTPS inspection (TLS terminated with the school CA) for this profile; false: host-level decisions only.',
    ),
  neverInspect: z
    .array(z.string())
    .default([])
    .describe('Categories never inspected for this profile, on top of tls.neverInspect.categories.'),
  tunnelNonTls: z
    .boolean()
    .default(false)
    .describe(
      'Whether a tunnel that is not inspected may carry something other than TLS (SSH, a VPN, plain HTTP on ' +
        'port 443). false: such a tunnel is closed once its first bytes show it is not TLS. Inside a tunnel ' +
        'that is inspected only TLS we terminate ever passes, whatever this says.',
    ),
  safeSearch: z
    .boolean()
    .default(true)
    .describe(
      'Force SafeSearch (Google, Bing, DuckDuckGo): a rewrite when inspected, a host mapping when not.',
    ),
  youtubeRestrict: z
    .enum(['off', 'moderate', 'strict'])
    .default('strict')
    .describe(
      'YouTube restricted mode: the YouTube-Restrict header when inspected, restrict.youtube.com when not.',
    ),
  mode: z
    .enum(['enforce', 'monitor'])
    .default('enforce')
    .describe(
      "Pilot mode: 'monitor' decides and records every request exactly as 'enforce' would, but lets blocks " +
        'and warnings through; their rows say would-block / would-warn, and `schoolgate report pilot` ' +
        'lists them. The illegal-content tier, a failed check and the network safety refusals (ports, ' +
        'addresses inside the school) still block. The top-level `mode` puts every profile in monitor.',
    ),
});

/** removeDefault() drops the field's description; the reference (docs/configuration.md) needs it back. */
function withDescription<T extends z.ZodType>(field: T, description: string | undefined): T {
  return description === undefined ? field : field.describe(description);
}

/** What a config layer says about one profile: any of its keys, no defaults (a key not written is kept). */
export const profilePatchSchema = z.strictObject(
  Object.fromEntries(
    Object.entries(profileSchema.shape).map(([k, f]) => [
      k,
      withDescription((f instanceof z.ZodDefault ? f.removeDefault() : f).optional(), f.description),
    ]),
  ) as unknown as {
    [K in keyof ProfileConfig]: z.ZodOptional<z.ZodType<ProfileConfig[K], ProfileConfig[K]>>;
  },
);

/** `profiles:` as written: `replace` beside the profiles (zod's catchall type cannot express that). */
export type ProfilesInput = {
  [name: string]: z.input<typeof profilePatchSchema> | boolean | undefined;
  replace?: boolean;
};

/** `profiles:` in a config file: overrides of the shipped profiles (src/config/profile-layers.ts). */
export const profilesLayerSchema = z
  .object({
    replace: z
      .boolean()
      .default(false)
      .describe(
        'true: drop the shipped profiles (pupil, staff, leadership, technician, guest) and use only the ' +
          'profiles written here. false (default): each profile written here overrides the shipped one of ' +
          'that name key by key (`categories` category by category); profiles not written are kept.',
      ),
  })
  .catchall(profilePatchSchema) as unknown as z.ZodType<
  { replace: boolean; [name: string]: unknown },
  ProfilesInput
>;

/** A school of a trust (src/identity/site.ts): lower-case letters, digits and hyphens. */
const siteName = z.string().regex(/^[a-z0-9-]{1,32}$/, 'expected a site name, e.g. north or st-marys');
const network = z.strictObject({
  cidr: cidr.describe('The network, e.g. 10.20.0.0/16.'),
  profile: z.string().min(1).describe('The profile its clients get when nobody signs in.'),
  name: z.string().optional().describe('A label for people (e.g. "Year 7 wifi").'),
  site: siteName
    .optional()
    .describe('The school of a trust it belongs to (e.g. north); its requests carry it.'),
});
const device = z.strictObject({
  address: z.string().min(1).describe('The device’s fixed IP address.'),
  name: z.string().min(1).describe('Its name in the audit log and the reports (e.g. "library PC 3").'),
  user: z.string().min(1).optional().describe('The user its traffic is recorded as, when nobody signs in.'),
  profile: z.string().min(1).optional().describe('The profile it gets, over its network’s.'),
  site: siteName.optional().describe('The school of a trust it belongs to, over its network’s.'),
});

/** A role of reports.people: dsl, deputy-dsl, headteacher, auditor, or the school's own. */
const roleName = z
  .string()
  .regex(/^[a-z][a-z0-9-]*$/, 'expected a role in lower case, e.g. dsl, deputy-dsl, headteacher, auditor');

const reportPerson = z.strictObject({
  name: z.string().trim().min(1).describe('The name `--by` gives, e.g. "J. Smith".'),
  osUser: z
    .string()
    .min(1)
    .optional()
    .describe(
      'Their account on the server: commands naming them must be run from it (or through sudo from it).',
    ),
  roles: z
    .array(roleName)
    .min(1)
    .describe('What they are: dsl, deputy-dsl, headteacher, auditor, or a role of the school’s own.'),
});

export const configSchema = z.strictObject({
  listen: z
    .strictObject({
      host: z
        .string()
        .default('0.0.0.0')
        .describe('Address the proxy listens on; 0.0.0.0 = every IPv4 address of this machine.'),
      port: z
        .number()
        .int()
        .min(0)
        .max(65535)
        .default(3128)
        .describe('Port the proxy listens on (Squid’s 3128).'),
    })
    .default({ host: '0.0.0.0', port: 3128 })
    .describe('Where the proxy listens (a restart applies a change).'),
  workers: z
    .union([z.literal('auto'), z.number().int().min(1).max(64)])
    .default(1)
    .describe(
      'Proxy processes sharing the port (`serve --workers N` overrides): auto = one per core (os.availableParallelism()). With more than 1, a primary process owns the audit writer, control socket, console and timers; 1 = the single process. Default 1: on 2 cores, 2 workers served 0.75× the requests of 1 (the primary relays every batch; see issue 13). A restart applies a change.',
    ),
  proxyName: z
    .string()
    .default('schoolgate.local')
    .describe(
      'The name browsers use to reach the proxy; used in the PAC file and to recognise requests to itself.',
    ),
  dataDir: z
    .string()
    .default('data')
    .describe('The state folder: audit and state databases, keys, the control socket. Owner-only.'),
  categoriesDir: z
    .string()
    .default('categories')
    .describe('The category lists; not set: the lists shipped with schoolgate.'),
  timeZone: z
    .string()
    .default('Europe/London')
    .describe('IANA time zone of time windows, the school day, reports and digests.'),
  clientNetworks: z
    .array(cidr)
    .default(['127.0.0.0/8', '::1/128', '10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', 'fc00::/7'])
    .describe('Only clients in these networks may use the proxy: never an open proxy.'),
  admin: z
    .strictObject({
      networks: z
        .array(cidr)
        .default(['127.0.0.0/8', '::1/128'])
        .describe('Networks that may read `/metrics` on the proxy port.'),
    })
    .prefault({})
    .describe('The technician’s machines.'),
  tunnelPorts: z.array(port).default([443]).describe('Ports CONNECT may tunnel to (Squid’s SSL_ports).'),
  httpPorts: z
    .array(port)
    .default([80, 8080])
    .describe('Ports plain HTTP requests may be forwarded to (Squid’s Safe_ports, trimmed).'),
  hostsFile: z
    .string()
    .nullable()
    .default(null)
    .describe(
      'Squid-style hosts_file: names routed to the addresses it gives (deliberate routes may be private).',
    ),
  hosts: z
    .record(z.string(), z.string())
    .default({})
    .describe('Inline routes, same meaning as the hosts file: name → address.'),
  identity: z
    .strictObject({
      basicAuth: z
        .boolean()
        .default(false)
        .describe(
          'Basic proxy authentication against the users (`schoolgate users`); false: nobody signs in.',
        ),
      requireAuth: z
        .boolean()
        .default(false)
        .describe(
          'With basicAuth on: clients that send no credentials get 407 (true) or fall through to address mapping (false).',
        ),
      realm: z.string().default('schoolgate').describe('The realm browsers show in the sign-in prompt.'),
      networks: z.array(network).default([]).describe('Networks mapped to a profile.'),
      devices: z
        .array(device)
        .default([])
        .describe('Devices with a fixed address, mapped to a name, user or profile.'),
      guestProfile: z
        .string()
        .default('guest')
        .describe('The profile of a client nobody signed in for and no network or device maps.'),
      importMap: z
        .record(z.string().min(1), z.string().min(1))
        .default({})
        .describe(
          '`users import` from a school export: a year / registration group / OU path / department value → profile ("Year 7": pupil, "/Staff": staff). Compared without regard to case and spacing; an OU path falls back to its nearest mapped parent. `--map GROUP=PROFILE` adds to (and overrides) these.',
        ),
      ldap: ldapSchema
        .nullable()
        .default(null)
        .describe(
          'Check Basic credentials against the school directory (needs basicAuth). A local user with a password is checked locally only and a disabled one refused; any other name (or a local row without a password, which then keeps its local profile) goes to the directory.',
        ),
    })
    .prefault({})
    .describe('Who is behind a request: a signed-in user, a known device or network, or a guest.'),
  profiles: profilesLayerSchema
    .prefault({})
    .transform((layer) => configLayer(DEFAULT_PROFILES, layer, profileSchema.parse({})).profiles)
    .describe(
      'Role profiles, layered over the shipped ones (src/config/default-profiles.ts): a profile named ' +
        'here overrides the shipped profile of that name key by key, its `categories` category by ' +
        'category; `replace: true` starts from no profiles. `schoolgate profiles show` prints the result.',
    ),
  warn: z
    .strictObject({
      continueMinutes: z
        .number()
        .int()
        .positive()
        .nullable()
        .default(null)
        .describe('Minutes a Continue on a warn page lasts; null: until the end of the school day.'),
      schoolDayEnd: clock.default('16:00').describe('When the school day ends (HH:MM local time).'),
    })
    .prefault({})
    .describe('Warn pages: a site the user may still open after a warning.'),
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
      sources: z
        .array(listSourceSchema)
        .prefault([UT1_SOURCE])
        .describe(
          'The public lists `schoolgate lists update` fetches into the provider layer (between the shipped ' +
            'lists and the local layer). Fetched only when a technician runs it, or at updateAt. Default: ' +
            'the UT1 blacklists (CC BY-SA 4.0) mapped onto the shipped categories.',
        ),
      updateAt: clock
        .nullable()
        .default(null)
        .describe(
          'When the running proxy runs `schoolgate lists update` itself, once a day at this time (HH:MM, ' +
            'school time zone). null (default): never; nothing is downloaded unless a technician asks.',
        ),
    })
    .prefault({})
    .describe('How list files are judged when they are loaded (start, reload, `config check`) or imported.'),
  audit: z
    .strictObject({
      batchMaxRows: z
        .number()
        .int()
        .min(1)
        .max(100_000)
        .default(1000)
        .describe('The most audit rows committed in one transaction (group commit).'),
      purgeAt: clock
        .nullable()
        .default('02:30')
        .describe(
          'When the running proxy deletes audit rows older than reports.retentionDays, once a night at ' +
            'this time (HH:MM, school time zone), as `schoolgate audit purge` would: open cases keep ' +
            'their rows, and each run is recorded with the purges (by "scheduled"). null: never; ' +
            'run `audit purge` yourself.',
        ),
    })
    .prefault({})
    .describe('The audit log (the SQLite record of every decision).'),
  store: storeSchema,
  reports: z
    .strictObject({
      allowedOsUsers: z
        .array(z.string().min(1))
        .nullable()
        .default(null)
        .describe(
          'OS accounts allowed to pull reports and manage cases (the headteacher’s and DSL’s accounts on the ' +
            'server). null: only the OS user that owns the data directory (the one who installed it).',
        ),
      retentionDays: z
        .number()
        .int()
        .min(1)
        .max(36_500)
        .default(365)
        .describe(
          '`audit purge` deletes rows older than this, except those held by an open case or a legal hold.',
        ),
      minimumRetentionDays: z
        .number()
        .int()
        .min(1)
        .max(36_500)
        .default(30)
        .describe(
          'The shortest retention `audit purge --retention-days` may ask for; shorter is refused (SG_PURGE_REFUSED).',
        ),
      people: z
        .array(reportPerson)
        .nullable()
        .default(null)
        .refine(
          (list) => list === null || new Set(list.map((p) => p.name.toLowerCase())).size === list.length,
          {
            message: 'two people have the same name',
          },
        )
        .describe(
          'The people who may read monitoring information: `--by` must name one of them (refused and recorded ' +
            'otherwise), and their roles decide the reviews and the access log they may pull. null: `--by` ' +
            'is any name (each command warns that it is unchecked).',
        ),
      reviewerRoles: z
        .array(roleName)
        .default(['dsl', 'deputy-dsl', 'headteacher'])
        .describe(
          'Roles (reports.people) that may pull reviews outside any case: `report flagged`, `weekly`, `pilot`, ' +
            'and alerts read without `--case`. Only when reports.people is set.',
        ),
      accessLogRoles: z
        .array(roleName)
        .default(['auditor', 'headteacher'])
        .describe(
          'Roles (reports.people) that may read `report access-log`: who read whose records. Only when ' +
            'reports.people is set.',
        ),
    })
    .prefault({})
    .describe('Investigations: who may pull per-person reports, and how long audit rows are kept.'),
  limits: z
    .strictObject({
      headersTimeoutMs: z
        .number()
        .int()
        .positive()
        .default(20_000)
        .describe('Time a client has to send a request’s headers.'),
      requestTimeoutMs: z
        .number()
        .int()
        .positive()
        .default(120_000)
        .describe('Time a client has to send a whole request (headers and body).'),
      upstreamTimeoutMs: z
        .number()
        .int()
        .positive()
        .default(30_000)
        .describe(
          'An origin silent this long (no response head, or a pause in its body) gets the client a 504 page ' +
            '(the outcome says 504); a refused or reset connection is a 502.',
        ),
      keepAliveTimeoutMs: z
        .number()
        .int()
        .positive()
        .default(5_000)
        .describe('An idle client keep-alive connection is closed after this long.'),
      connectTimeoutMs: z
        .number()
        .int()
        .positive()
        .default(10_000)
        .describe('Time allowed to open a connection to an origin.'),
      dnsTimeoutMs: z
        .number()
        .int()
        .positive()
        .default(5_000)
        .describe(
          'A name lookup unanswered this long gets the client a 504 page. At most two system lookups run at ' +
            'once, so a name server that never answers cannot take the thread pool file I/O and crypto use.',
        ),
      tunnelIdleTimeoutMs: z
        .number()
        .int()
        .positive()
        .default(300_000)
        .describe('A CONNECT tunnel or WebSocket with no traffic either way is closed after this long.'),
      maxConnections: z
        .number()
        .int()
        .positive()
        .default(10_000)
        .describe('Client connections the proxy holds open at once; more are refused.'),
      shutdownGraceMs: z
        .number()
        .int()
        .min(0)
        .default(10_000)
        .describe(
          'On stop (SIGTERM): how long requests, downloads, tunnels and WebSockets in flight may go on before ' +
            'they are cut. Their outcomes are written either way.',
        ),
      maxConnectionsPerClient: z
        .number()
        .int()
        .positive()
        .default(256)
        .describe('Open connections one client address may hold; more are closed at once.'),
    })
    .prefault({})
    .describe('Timeouts and connection limits (a restart applies a change).'),
  tls: z
    .strictObject({
      inspect: z
        .boolean()
        .default(true)
        .describe('Master switch for HTTPS inspection; profiles choose with their own `inspect` too.'),
      caName: z
        .string()
        .min(1)
        .max(64)
        .nullable()
        .default(null)
        .describe(
          'The name a new school CA is given (its certificate’s organisation and the start of its common ' +
            'name), e.g. "Hillside Primary web filter": what a device shows when asked to trust it. Used ' +
            'when a CA is created (first `serve`, `ca init`, `ca renew`); an existing CA keeps its ' +
            'name. null: "schoolgate school CA".',
        ),
      certsDir: z
        .string()
        .default('certs')
        .describe('Where the school CA lives (schoolgate-ca.crt, schoolgate-ca.key).'),
      extraCaFiles: z
        .array(z.string())
        .default([])
        .describe(
          'Extra PEM files of CAs trusted for upstream servers, on top of the system store and NODE_EXTRA_CA_CERTS.',
        ),
      leafValidityDays: z
        .number()
        .int()
        .min(1)
        .max(90)
        .default(7)
        .describe(
          'Days a leaf certificate is valid; short on purpose (re-signed from cache when near expiry).',
        ),
      leafCacheSize: z
        .number()
        .int()
        .min(16)
        .max(1_000_000)
        .default(5_000)
        .describe('Leaf certificates kept in memory (one per host).'),
      leafDiskCacheSize: z
        .number()
        .int()
        .min(0)
        .max(1_000_000)
        .default(5_000)
        .describe(
          'Leaf certificates kept on disk in <dataDir>/leaves (owner-only, with the shared leaf key) so a restart serves the busiest hosts without signing them again; the least recently used beyond this many are removed. 0 keeps none and makes a new leaf key at every start.',
        ),
      handshakeTimeoutMs: z
        .number()
        .int()
        .positive()
        .default(10_000)
        .describe('Time allowed for a client’s ClientHello and handshake after 200 Connection Established.'),
      neverInspect: z
        .strictObject({
          categories: z
            .array(z.string())
            .default(['banking', 'health'])
            .describe('Categories never inspected, for every profile.'),
          hosts: z
            .array(z.string())
            .default([...NEVER_INSPECT_HOSTS])
            .describe('Hosts never inspected (certificate-pinned apps), for every profile.'),
        })
        .prefault({})
        .describe('Never inspected, for every profile: categories (banking, health) and hosts.'),
    })
    .prefault({})
    .describe('HTTPS inspection with the school CA.'),
  accessLog: accessLogSchema,
  pac: pacSchema,
  upstream: upstreamSchema,
  branding: brandingSchema,
  mode: z
    .enum(['enforce', 'monitor'])
    .default('enforce')
    .describe(
      "Pilot mode for the whole proxy: 'monitor' puts every profile in monitor (see profiles.<name>.mode); " +
        "'enforce' leaves each profile's own mode.",
    ),
  illegalContent: z
    .strictObject({
      dir: z
        .string()
        .nullable()
        .default(null)
        .describe(
          "The folder holding the illegal-content lists the school's provider supplies (the IWF URL list, " +
            'the CTIRU list): every `*.txt` or `*.list` file in it is loaded, one entry a line (a domain, a ' +
            'URL prefix, or a hashed URL as sha256:<hex> or md5:<hex>). null: `<dataDir>/illegal`. These ' +
            'entries block for everyone and nothing can allow them. A folder named here must exist; a file ' +
            'that cannot be read or has a line that is not an entry makes the start block every request ' +
            '(SG_ILLEGAL_TIER_UNUSABLE) and a reload keep the lists in force.',
        ),
      files: z
        .array(z.string().regex(/^[^/\\]+$/, 'a file name, not a path'))
        .default([])
        .describe(
          'Files that must be in the folder (e.g. [iwf.txt, ctiru.txt]): one missing is treated as an ' +
            'unreadable list (fail closed). Name the files your provider supplies so a failed sync is caught.',
        ),
    })
    .prefault({})
    .describe('The illegal-content tier (IWF, CTIRU): see README "The illegal-content tier".'),
  alerts: alertsSchema
    .prefault({})
    .describe('Safeguarding alerts to the DSL: rules, windows, digest, webhook and e-mail.'),
  log: z
    .strictObject({
      level: z
        .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace'])
        .default('info')
        .describe('The least severe log level written.'),
    })
    .prefault({})
    .describe('The proxy’s own log (JSON lines on standard output).'),
  selftest: z
    .strictObject({
      mustReach: z
        .array(z.string().min(1))
        .default([
          'http://www.childline.org.uk/',
          'http://www.samaritans.org/',
          'http://www.google.co.uk/',
          'http://www.bing.com/',
        ])
        .describe(
          'Help lines, search engines and the school’s own platforms (add the learning platform here).',
        ),
      probes: z
        .record(z.string(), z.array(z.string().min(1)))
        .default({})
        .describe(
          'category → probe URLs; categories not named here are probed with their first listed domain.',
        ),
    })
    .prefault({})
    .describe('`schoolgate selftest`: sites that must stay reachable for every profile, and extra probes.'),
  console: consoleSchema,
});

export type ConfigInput = z.input<typeof configSchema>;
export type Config = z.output<typeof configSchema>;
export type ProfileConfig = z.output<typeof profileSchema>;
