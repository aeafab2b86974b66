/**
 * One sign-in against the school's directory, over one connection:
 *   service-account bind → search the user (exactly one entry) → group lookups → bind as the user.
 * The whole exchange has one deadline (timeoutMs); anything but a refused password or a missing user — a
 * connection refused, a TLS failure, no answer in time, the service account refused — is an outage, which
 * the caller turns into onOutage. Caching and single-flight are the Identifier's (identify.ts).
 *
 * Uses ldapts (TypeScript, maintained, no native parts, one small dependency) rather than a hand-written
 * BER client.
 */
import { Client, InvalidCredentialsError, NoSuchObjectError, SizeLimitExceededError } from 'ldapts';
import { isIP } from 'node:net';
import type { ConnectionOptions } from 'node:tls';
import { readSecret, trustWithCaFile } from '../../alerts/sinks/secrets.js';
import type { LdapConfig } from './config.js';
import { userFilter } from './filter.js';
import { canonicalDn, groupMap, profileOfGroups, type GroupMap } from './groups.js';

export type DirectoryResult =
  | { kind: 'ok'; dn: string; profile: string; group: string | null }
  | { kind: 'rejected'; why: 'no-such-user' | 'ambiguous-user' | 'wrong-password' | 'empty-password' }
  | { kind: 'outage'; cause: string };

type Rejected = Extract<DirectoryResult, { kind: 'rejected' }>;
type Outage = Extract<DirectoryResult, { kind: 'outage' }>;
interface Found {
  kind: 'found';
  dn: string;
  memberOf: string[];
}
/** What a sign-in reads about the user once found (a profile's group, the console's groups). */
type Lookup<T> = (client: Client, found: Found) => Promise<T>;
type Exchanged<T> = { kind: 'ok'; dn: string; looked: T } | Rejected | Outage;

export type MembershipResult = { kind: 'ok'; dn: string; groups: string[] } | Rejected | Outage;

export interface DirectoryCounters {
  /** Binds as a user (one per sign-in that reached the password check). */
  userBinds: number;
  /** Sign-ins that ended in an outage. */
  outages: number;
  lastOutage: { at: number; cause: string } | null;
}

export class Directory {
  private readonly bindPassword: string;
  private readonly tls: ConnectionOptions | undefined;
  private readonly groups: GroupMap;
  private readonly host: string;
  readonly counters: DirectoryCounters = { userBinds: 0, outages: 0, lastOutage: null };

  /** Reads the bind password and CA file now: a missing file is a config error at start or reload. */
  constructor(
    readonly config: LdapConfig,
    readonly fallbackProfile: string,
    private readonly now: () => number = Date.now,
  ) {
    this.bindPassword = readSecret({
      field: 'identity.ldap.bindPasswordFile',
      file: config.bindPasswordFile,
    });
    const ca = trustWithCaFile(config.tls.caFile, 'identity.ldap.tls.caFile');
    this.tls = ca ? { ca } : undefined;
    this.groups = groupMap(config.groups);
    this.host = new URL(config.url).hostname.replace(/^\[|\]$/g, '');
  }

  async authenticate(user: string, password: string): Promise<DirectoryResult> {
    const result = await this.signIn(
      user,
      password,
      async (client, found) =>
        profileOfGroups(this.groups, found.memberOf) ?? (await this.groupByMembers(client, found.dn, user)),
    );
    if (result.kind !== 'ok') return result;
    const group = result.looked;
    return {
      kind: 'ok',
      dn: result.dn,
      profile: group?.profile ?? this.config.defaultProfile ?? this.fallbackProfile,
      group: group?.group ?? null,
    };
  }

  /**
   * A sign-in that also says which of `groups` (DNs, or bare names matched against a group's cn) the user
   * is a member of, read now from the directory (the console's roles: nothing cached).
   */
  async memberships(user: string, password: string, groups: readonly string[]): Promise<MembershipResult> {
    const result = await this.signIn(user, password, (client, found) =>
      groupsOfMember(client, found, user, groups),
    );
    return result.kind === 'ok' ? { kind: 'ok', dn: result.dn, groups: result.looked } : result;
  }

  private async signIn<T>(user: string, password: string, lookup: Lookup<T>): Promise<Exchanged<T>> {
    // An empty password is an "unauthenticated bind" (RFC 4513 §5.1.2) that many servers accept.
    if (password === '') return { kind: 'rejected', why: 'empty-password' };
    const client = new Client({
      url: this.config.url,
      timeout: this.config.timeoutMs,
      connectTimeout: this.config.timeoutMs,
      strictDN: false,
      // Only for ldaps://: given with ldap://, ldapts would speak TLS to the plain port (StartTLS gets them below).
      ...(this.tls && this.config.url.toLowerCase().startsWith('ldaps:') ? { tlsOptions: this.tls } : {}),
    });
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<Exchanged<T>>((resolve) => {
      timer = setTimeout(
        () => resolve({ kind: 'outage', cause: `no answer within ${this.config.timeoutMs} ms` }),
        this.config.timeoutMs,
      );
    });
    try {
      const result = await Promise.race([this.exchange(client, user, password, lookup), deadline]);
      if (result.kind === 'outage') {
        this.counters.outages++;
        this.counters.lastOutage = { at: this.now(), cause: result.cause };
      }
      return result;
    } finally {
      clearTimeout(timer);
      // Not awaited: a server that never answers must not hold the sign-in.
      client.unbind().catch(() => {});
    }
  }

  private async exchange<T>(
    client: Client,
    user: string,
    password: string,
    lookup: Lookup<T>,
  ): Promise<Exchanged<T>> {
    let step = 'connect';
    try {
      if (this.config.tls.startTls) {
        step = 'StartTLS';
        // The name the certificate must carry: the url's host (Node would check 'localhost' otherwise).
        await client.startTLS({
          ...this.tls,
          host: this.host,
          ...(isIP(this.host) ? {} : { servername: this.host }),
        });
      }
      step = 'service account bind';
      await client.bind(this.config.bindDn, this.bindPassword);
      step = 'user search';
      const found = await this.findUser(client, user);
      if (found.kind !== 'found') return found;
      step = 'group lookup';
      const looked = await lookup(client, found);
      step = 'user bind';
      this.counters.userBinds++;
      try {
        await client.bind(found.dn, password);
      } catch (err) {
        if (err instanceof InvalidCredentialsError) return { kind: 'rejected', why: 'wrong-password' };
        throw err;
      }
      return { kind: 'ok', dn: found.dn, looked };
    } catch (err) {
      return { kind: 'outage', cause: `${step}: ${describe(err)}` };
    }
  }

  private async findUser(client: Client, user: string): Promise<Found | Rejected> {
    try {
      const { searchEntries } = await client.search(this.config.userBase, {
        scope: 'sub',
        filter: userFilter(this.config.userFilter, user),
        attributes: ['memberOf'],
        sizeLimit: 2,
      });
      if (searchEntries.length === 0) return { kind: 'rejected', why: 'no-such-user' };
      if (searchEntries.length > 1) return { kind: 'rejected', why: 'ambiguous-user' };
      const entry = searchEntries[0]!;
      return { kind: 'found', dn: entry.dn, memberOf: values(entry['memberOf']) };
    } catch (err) {
      // Two entries for one name: refuse rather than pick one.
      if (err instanceof SizeLimitExceededError) return { kind: 'rejected', why: 'ambiguous-user' };
      throw err;
    }
  }

  /** Directories without memberOf (OpenLDAP without the overlay): ask each configured group, in order. */
  private async groupByMembers(
    client: Client,
    dn: string,
    user: string,
  ): Promise<{ group: string; profile: string } | null> {
    const filter = memberFilter(dn, user);
    for (const g of this.groups.order)
      if (await hasEntry(client, g.configured, 'base', filter))
        return { group: g.configured, profile: g.profile };
    return null;
  }
}

/**
 * Which of `groups` the user is in: a DN by memberOf or by the group's member attributes; a bare name by a
 * memberOf whose first RDN value is that name, or by a search for a group of that cn with the user as a
 * member, under the directory's root (the dc= part of the user's DN).
 */
async function groupsOfMember(
  client: Client,
  found: Found,
  user: string,
  groups: readonly string[],
): Promise<string[]> {
  const memberOf = found.memberOf.map(canonicalDn);
  const isMember = memberFilter(found.dn, user);
  const root = canonicalDn(found.dn)
    .split(',')
    .filter((rdn) => rdn.startsWith('dc='))
    .join(',');
  const matched: string[] = [];
  for (const g of groups) {
    if (g.includes('=')) {
      const dn = canonicalDn(g);
      if (memberOf.includes(dn) || (await hasEntry(client, g, 'base', isMember))) matched.push(g);
      continue;
    }
    const cn = g.toLowerCase();
    const byMemberOf = memberOf.some((dn) => dn.split(',')[0]?.split('=')[1] === cn);
    if (
      byMemberOf ||
      (root !== '' && (await hasEntry(client, root, 'sub', `(&(cn=${escapeValue(g)})${isMember})`)))
    )
      matched.push(g);
  }
  return matched;
}

async function hasEntry(
  client: Client,
  base: string,
  scope: 'base' | 'sub',
  filter: string,
): Promise<boolean> {
  try {
    const { searchEntries } = await client.search(base, { scope, filter, attributes: ['1.1'], sizeLimit: 1 });
    return searchEntries.length > 0;
  } catch (err) {
    if (err instanceof NoSuchObjectError) return false; // a group named in the config that does not exist
    if (err instanceof SizeLimitExceededError) return true;
    throw err;
  }
}

/** The user as a member: member / uniqueMember (their DN) or memberUid (posixGroup: their name). */
function memberFilter(dn: string, user: string): string {
  const who = escapeValue(dn);
  return `(|(member=${who})(uniqueMember=${who})(memberUid=${escapeValue(user)}))`;
}

function escapeValue(value: string): string {
  return userFilter('{user}', value);
}

function values(attr: unknown): string[] {
  if (attr === undefined) return [];
  const list = Array.isArray(attr) ? attr : [attr];
  return list.map((v) => (Buffer.isBuffer(v) ? v.toString('utf8') : String(v)));
}

function describe(err: unknown): string {
  const e = err as { code?: unknown; message?: unknown };
  const message = typeof e?.message === 'string' ? e.message : String(err);
  return message.replace(/\s+/g, ' ').slice(0, 200);
}
