/**
 * Which ways of telling who is asking are on (src/identity/identify.ts applies them in this order): Basic
 * proxy authentication, then the client address mapped to a device or a network, then the guest profile.
 * For `status`, and for `users add` to say when the users it adds cannot sign in.
 */
import type { ReadonlyConfig } from '../config/load.js';
import type { ExtraAddresses } from './identify-types.js';

export interface IdentityModes {
  basicAuth: boolean;
  /** With basicAuth: a client sending no credentials gets 407 instead of falling through to its address. */
  requireAuth: boolean;
  /** Address mapping: networks and devices, from the config file and from `networks`/`devices add`. */
  networks: number;
  devices: number;
  guestProfile: string;
}

export function identityModes(config: ReadonlyConfig, extra: ExtraAddresses): IdentityModes {
  return {
    basicAuth: config.identity.basicAuth,
    requireAuth: config.identity.basicAuth && config.identity.requireAuth,
    networks: config.identity.networks.length + extra.networks.length,
    devices: config.identity.devices.length + extra.devices.length,
    guestProfile: config.identity.guestProfile,
  };
}

export function identityModeLine(m: IdentityModes): string {
  const auth = m.basicAuth
    ? `basic auth on${m.requireAuth ? ' (required: no credentials, 407)' : ''}`
    : 'basic auth OFF (users cannot sign in; identity.basicAuth)';
  return `${auth}; address mapping ${m.networks} networks, ${m.devices} devices; else profile ${m.guestProfile}`;
}

/** What `users add`/`import` say when the users they add cannot sign in (null when they can). */
export function basicAuthOffNotice(config: ReadonlyConfig, configFile: string | undefined): string | null {
  if (config.identity.basicAuth) return null;
  const where = configFile ? `in ${configFile}` : 'in a config file (passed with --config)';
  return (
    'Basic proxy authentication is off, so no browser is asked to sign in and these users are never ' +
    `identified: their clients get the profile of their address or ${config.identity.guestProfile}. ` +
    `To turn it on, set \`identity: { basicAuth: true }\` ${where} and run \`schoolgate reload\`.`
  );
}
