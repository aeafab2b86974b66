/**
 * The shipped role profiles, following the schools' acceptable-use policies (see docs/architecture.md):
 * - streaming, messaging, chat rooms, social networking and webmail "must never be accessed from the
 *   network" by pupils;
 * - pornography, gambling, chat rooms and material harmful to children are gross misconduct for staff;
 *   extremism falls under the Prevent duty → blocked for every role;
 * - "restricted" categories warn staff that they are for business use only (warn + continue, recorded);
 * - reasonable personal use outside working time (lunchtime) → a staff time window.
 * - AI companion/character chat (aichat: sexualised role-play, bots that discuss self-harm; most set a
 *   minimum age of 13 to 18) is blocked for pupils and guests, off (allowed) for staff, and warned for
 *   leadership and technicians, as the category's issue (#17) asks: adults are not the children it
 *   protects, and a warn page keeps the senior accounts' visits deliberate and recorded.
 * - general AI assistants (ai): blocked for pupils and guests (the vendors' age terms, and DfE guidance
 *   leaves pupils' use to the school's AI policy: a school opens it per profile or per tool), allowed for
 *   staff, leadership and technicians (DfE encourages staff use for planning and workload).
 */
type Action = 'allow' | 'warn' | 'block';
type Restrict = 'off' | 'moderate' | 'strict';

/**
 * HTTPS inspection per profile: pupils, guests, staff and leadership are inspected (full-URL decisions,
 * search terms, SafeSearch rewrites, block pages over HTTPS); technicians are not, so that they can
 * diagnose certificate-pinned apps and devices, and their traffic is decided on host names only.
 */
const INSPECTED = {
  inspect: true,
  neverInspect: [] as string[],
  tunnelNonTls: false,
  mode: 'enforce' as 'enforce' | 'monitor',
};

/**
 * Hosts never inspected for any profile: device enrolment and push services pin their certificates or
 * must see the vendor's own chain (Apple and Google MDM/enrolment). Suffix match, like list entries.
 */
export const NEVER_INSPECT_HOSTS: readonly string[] = Object.freeze([
  'push.apple.com',
  'mdmenrollment.apple.com',
  'deviceenrollment.apple.com',
  'deviceservices-external.apple.com',
  'gdmf.apple.com',
  'identity.apple.com',
  'albert.apple.com',
  'm.google.com',
  'android.clients.google.com',
]);

const NEVER: Record<string, Action> = {
  gambling: 'block',
  extremism: 'block',
  adult: 'block',
  p2p: 'block',
  anonymisers: 'block',
  malware: 'block',
  selfharm: 'block',
  doh: 'block',
};

const PUPIL: Record<string, Action> = {
  ...NEVER,
  streaming: 'block',
  chat: 'block',
  social: 'block',
  webmail: 'block',
  games: 'block',
  dating: 'block',
  shopping: 'block',
  aichat: 'block',
  ai: 'block',
};

export const DEFAULT_PROFILES = {
  pupil: {
    description: 'Pupils: every category in the school policy blocked.',
    default: 'allow' as Action,
    categories: PUPIL,
    allow: [],
    deny: [],
    ipLiterals: 'block' as Action,
    ...INSPECTED,
    safeSearch: true,
    youtubeRestrict: 'strict' as Restrict,
    timeWindows: [],
  },
  staff: {
    description:
      'Teaching and support staff: restricted categories warn (business use only), the rest blocked.',
    default: 'allow' as Action,
    categories: {
      ...NEVER,
      streaming: 'warn',
      chat: 'warn',
      social: 'warn',
      webmail: 'warn',
      games: 'warn',
      dating: 'block',
      shopping: 'warn',
      aichat: 'allow',
      ai: 'allow',
    } as Record<string, Action>,
    allow: [],
    deny: [],
    ipLiterals: 'warn' as Action,
    ...INSPECTED,
    safeSearch: true,
    youtubeRestrict: 'moderate' as Restrict,
    timeWindows: [
      {
        name: 'lunchtime',
        days: ['mon', 'tue', 'wed', 'thu', 'fri'] as ('mon' | 'tue' | 'wed' | 'thu' | 'fri')[],
        from: '12:00',
        to: '13:30',
        categories: { streaming: 'allow', social: 'allow', webmail: 'allow', shopping: 'allow' } as Record<
          string,
          Action
        >,
      },
    ],
  },
  leadership: {
    description: 'Senior leaders: as staff, with social media and webmail allowed for school communications.',
    default: 'allow' as Action,
    categories: {
      ...NEVER,
      streaming: 'warn',
      chat: 'warn',
      games: 'warn',
      dating: 'block',
      aichat: 'warn',
      ai: 'allow',
    } as Record<string, Action>,
    allow: [],
    deny: [],
    ipLiterals: 'warn' as Action,
    ...INSPECTED,
    safeSearch: true,
    youtubeRestrict: 'moderate' as Restrict,
    timeWindows: [],
  },
  technician: {
    description: 'IT technicians: as leadership; anonymisers and DNS-over-HTTPS warn so they can test them.',
    default: 'allow' as Action,
    categories: {
      ...NEVER,
      anonymisers: 'warn',
      doh: 'warn',
      streaming: 'warn',
      chat: 'warn',
      games: 'warn',
      dating: 'block',
      aichat: 'warn',
      ai: 'allow',
    } as Record<string, Action>,
    allow: [],
    deny: [],
    ipLiterals: 'allow' as Action,
    inspect: false,
    neverInspect: [] as string[],
    // Technicians diagnose devices and servers: SSH or a VPN over port 443 is theirs to use.
    tunnelNonTls: true,
    mode: 'enforce' as 'enforce' | 'monitor',
    safeSearch: false,
    youtubeRestrict: 'off' as Restrict,
    timeWindows: [],
  },
  guest: {
    description: 'Unidentified devices: the most restrictive profile.',
    default: 'allow' as Action,
    categories: { ...PUPIL },
    allow: [],
    deny: [],
    ipLiterals: 'block' as Action,
    ...INSPECTED,
    safeSearch: true,
    youtubeRestrict: 'strict' as Restrict,
    timeWindows: [],
  },
};
