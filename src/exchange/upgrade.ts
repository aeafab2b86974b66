/**
 * A WebSocket upgrade, on the proxy port or inside an intercepted tunnel: decided like any request (on the
 * full URL, with the tunnel's identity inside one), then relayed. Only 'websocket' is relayed (h2c and the
 * like are refused: we only relay protocols we can filter), and a warn page cannot stand in for a
 * WebSocket, so a warned upgrade is refused as a block.
 */
import type { Target } from '../policy/types.js';
import { allowedAction } from './pilot.js';
import type { Exchange } from './exchange.js';
import { seenOf } from './http.js';
import { readInnerHead, readProxyHead } from './read-head.js';
import type { PageAnswer, RequestHead } from './types.js';

export type UpgradeStep =
  | { kind: 'answer'; answer: PageAnswer }
  | { kind: 'relay'; target: Target; address: string; rawPath: string; viaParent?: boolean };

export async function runUpgrade(ex: Exchange, head: RequestHead): Promise<UpgradeStep> {
  const tunnel = ex.start.tunnel;
  const reading = tunnel ? readInnerHead(head, tunnel) : readProxyHead(head, ex.env.own);
  const seen =
    reading.kind === 'own-page' ? { host: '', path: head.rawTarget.slice(0, 2048) } : seenOf(reading);
  if (!tunnel && !ex.clientAllowed) return answer(await ex.refuseClient(seen, head.rawTarget));
  if (head.upgrade !== 'websocket') return reject(ex, 'bad-request:upgrade-protocol', 400, seen);
  if (reading.kind === 'own-page') return reject(ex, 'bad-request:upgrade-target', 400, seen);
  if (reading.kind === 'reject') return reject(ex, reading.reason, reading.status, seen);

  const { target, pageUrl } = reading;
  const verdict =
    tunnel?.blocked ?? (await ex.check(target, tunnel ? ex.env.ports.tunnel : ex.env.ports.http));
  if (verdict.kind === 'warn') {
    // A warn page cannot stand in for a WebSocket (there is no page to press Continue on): refused as a block.
    const blocked = { kind: 'block' as const, identity: verdict.identity, decision: verdict.decision };
    return answer(await ex.refuse(blocked, target, pageUrl));
  }
  if (verdict.kind !== 'allow') return answer(await ex.refuse(verdict, target, pageUrl));
  const row = ex.row(target, verdict, {
    action: allowedAction(verdict),
    reason: verdict.decision.rule.kind,
    status: 101,
  });
  if (!(await ex.commit(row))) return answer(ex.unavailable(pageUrl));
  return {
    kind: 'relay',
    target,
    address: verdict.resolution.address,
    rawPath: reading.rawPath,
    ...(verdict.resolution.viaParent ? { viaParent: true } : {}),
  };
}

async function reject(
  ex: Exchange,
  reason: string,
  status: number,
  seen: Partial<Target> & { host: string },
): Promise<UpgradeStep> {
  return answer(await ex.reject(status, reason, seen));
}

function answer(page: PageAnswer): { kind: 'answer'; answer: PageAnswer } {
  return { kind: 'answer', answer: { ...page, close: true } };
}
