/** The exchange: one object per request, tunnel or inner request (see exchange.ts). */
export { Exchange, type ExchangeEnv } from './exchange.js';
export { ExchangeEvents, type ExchangeEventMap, type ExchangeEventName } from './events.js';
export { runHttp, type HttpIo, type HttpStep } from './http.js';
export { runUpgrade, type UpgradeStep } from './upgrade.js';
export {
  runConnect,
  tunnelFlight,
  type ConnectIo,
  type ConnectStep,
  type FlightStep,
  type OpenTunnel,
} from './connect.js';
export type { PolicySnapshot } from './snapshot.js';
export type { ExchangeStart, PageAnswer, RequestHead, TunnelContext, Transport, Verdict } from './types.js';
export { SelftestProbes, SELFTEST_HEADER } from './selftest-probes.js';
