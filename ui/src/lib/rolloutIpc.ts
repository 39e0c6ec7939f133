// Typed adapters over the lead's promote desk (src-tauri/src/rollout.rs) and team sync
// (src-tauri/src/sync.rs), through the one typed `call` (commands.ts): what promotion is
// still missing, promoting with its canary polled like a validation run, rolling back with a
// reason, what waits to be promoted, and syncing with the team's remote. Types come from
// Rust (lib/bindings). The promotion commit is signed in the core with the keyring's key.
import { call } from './commands';
import type { CanaryOutcome } from './bindings/CanaryOutcome';
import type { CanaryProgressPage } from './bindings/CanaryProgressPage';
import type { CanaryRun } from './bindings/CanaryRun';
import type { GateStatus } from './bindings/GateStatus';
import type { PromoteItem } from './bindings/PromoteItem';
import type { PromoteQueue } from './bindings/PromoteQueue';
import type { Promoted } from './bindings/Promoted';
import type { PromotionPage } from './bindings/PromotionPage';
import type { Readiness } from './bindings/Readiness';
import type { RolledBack } from './bindings/RolledBack';
import type { RolloutView } from './bindings/RolloutView';
import type { Arrival } from './bindings/Arrival';
import type { Refusal } from './bindings/Refusal';
import type { SyncReport } from './bindings/SyncReport';
import type { SyncStatus } from './bindings/SyncStatus';
import type { ValidationProgress } from './bindings/ValidationProgress';

export type {
  CanaryOutcome,
  CanaryProgressPage,
  CanaryRun,
  GateStatus,
  PromoteItem,
  PromoteQueue,
  Promoted,
  PromotionPage,
  Readiness,
  RolledBack,
  RolloutView,
  Arrival,
  Refusal,
  SyncReport,
  SyncStatus,
};

export const rolloutIpc = {
  /** Every gate promotion re-checks, for `person`, with what is missing. */
  readiness: (id: string, person: string) => call('rollout_readiness', { id, person }),
  /** Starts promoting on the app side (then the canary); returns the token to poll. */
  promoteStart: (id: string, person: string) => call('rollout_promote_start', { id, person }),
  promotePoll: (token: string, from: number) => call('rollout_promote_poll', { token, from }),
  rollback: (id: string, person: string, reason: string) => call('rollout_rollback', { id, person, reason }),
  /** The promotion, its canary with the log, and the rollback of proposal `id`, as recorded. */
  view: (id: string) => call('rollout_view', { id }),
  /** The live log of canary run `runId` after event `from` (any process may be running it). */
  canaryPoll: (runId: string, from: number) => call('rollout_canary_poll', { runId, from }),
  /** Approved proposals `person` may promote: the ready ones, and what the others miss. */
  queue: (person: string) => call('rollout_queue', { person }),
  syncStatus: () => call('sync_status'),
  /** Syncs with `remote` (default: origin); `person` endorses this device the first time. */
  sync: (remote: string | null, person: string | null) => call('sync_run', { remote, person }),
};

/**
 * Promotes `id` as `person`, handing each canary progress event to `onEvent` as it arrives
 * (polled every `intervalMs`, like a validation run), and resolves with what happened (the
 * promotion, its canary and any automatic rollback) or rejects with the core's refusal.
 */
export async function runPromotion(
  id: string,
  person: string,
  onEvent: (p: ValidationProgress) => void,
  intervalMs = 150,
): Promise<Promoted> {
  const token = await rolloutIpc.promoteStart(id, person);
  let from = 0;
  for (;;) {
    const page = await rolloutIpc.promotePoll(token, from);
    page.events.forEach(onEvent);
    from = page.next;
    if (page.done) {
      if (page.error) throw page.error;
      if (page.report) return page.report;
      throw { code: 'APP_INTERNAL', message: 'the promotion ended without a report' };
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** The gates that say no, in the order promotion checks them. */
export function missing(readiness: Readiness): GateStatus[] {
  return readiness.gates.filter((g) => !g.ok);
}

/** "3 ahead, 1 behind" — how this clone and the remote differ, in words. */
export function aheadBehind(ahead: number, behind: number): string {
  if (ahead === 0 && behind === 0) return 'in step';
  const parts = [];
  if (ahead > 0) parts.push(`${ahead} ahead`);
  if (behind > 0) parts.push(`${behind} behind`);
  return parts.join(', ');
}
