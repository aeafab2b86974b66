/**
 * Pilot mode (`mode: monitor`, per profile or for the whole proxy): every request is decided exactly as in
 * `enforce`, but a block or warn is let through and its row says `would-block` / `would-warn`, so a school
 * can trial the filter for a week and read what it would have stopped (`schoolgate report would-block`).
 *
 * Never let through, whatever the mode: the illegal-content tier (the law, not the school's choice) and a
 * check that failed (rule 'policy-error': the filter could not tell, so it does not guess). Refusals that
 * protect the network rather than apply the school's policy (ports, addresses inside the school, non-TLS
 * in a tunnel, malformed requests) are made before or beside decide() and stay as they are.
 */
import type { AuditAction } from '../audit/types.js';
import type { Decision, Profile, RuleKind } from '../policy/types.js';

const ALWAYS_ENFORCED: ReadonlySet<RuleKind> = new Set(['illegal-tier', 'policy-error']);

/** What pilot mode lets through: the action it would have taken, or undefined to enforce the decision. */
export function pilotWould(profile: Profile | undefined, decision: Decision): 'block' | 'warn' | undefined {
  if (profile?.mode !== 'monitor' || decision.action === 'allow') return undefined;
  if (ALWAYS_ENFORCED.has(decision.rule.kind)) return undefined;
  return decision.action;
}

/** The row's action for a request let through: allowed, under a Continue, or in pilot mode. */
export function allowedAction(verdict: { continued: boolean; would?: 'block' | 'warn' }): AuditAction {
  if (verdict.would !== undefined) return `would-${verdict.would}`;
  return verdict.continued ? 'continued' : 'allow';
}
