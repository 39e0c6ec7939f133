// Typed adapters over the Proposals view's commands (src-tauri/src/validation.rs) and the
// validation progress events, through the one typed `call` (commands.ts). Types come from
// Rust (lib/bindings).
import { call } from './commands';
import type { ProposalView } from './bindings/ProposalView';
import type { StoredCheck } from './bindings/StoredCheck';
import type { GuardRecord } from './bindings/GuardRecord';
import type { ProposalSummary } from './bindings/ProposalSummary';
import type { TableEdge } from './bindings/TableEdge';
import type { ValidateReport } from './bindings/ValidateReport';
import type { ValidationProgress } from './bindings/ValidationProgress';
import type { CheckRunStatus } from './bindings/CheckRunStatus';
import type { CheckStatus } from './bindings/CheckStatus';
import type { ProgressPage } from './bindings/ProgressPage';
import type { State } from './bindings/State';

export type {
  CheckRunStatus,
  CheckStatus,
  GuardRecord,
  ProgressPage,
  ProposalSummary,
  ProposalView,
  State,
  StoredCheck,
  TableEdge,
  ValidateReport,
  ValidationProgress,
};

export const workflowIpc = {
  list: (state: State | null = null) => call('proposals_list', { state }),
  view: (id: string) => call('proposal_view', { id }),
  table: () => call('workflow_table'),
  /** Starts a validation on the app side; returns the token to poll. */
  validateStart: (id: string) => call('validate_start', { id }),
  validatePoll: (token: string, from: number) => call('validate_poll', { token, from }),
};

/**
 * Runs a validation, handing every progress event to `onEvent` as it arrives (polled every
 * `intervalMs`), and resolves with the report (or rejects with the core's `{code, message}`).
 */
export async function runValidation(
  id: string,
  onEvent: (p: ValidationProgress) => void,
  intervalMs = 150,
): Promise<ValidateReport> {
  const token = await workflowIpc.validateStart(id);
  let from = 0;
  for (;;) {
    const page = await workflowIpc.validatePoll(token, from);
    page.events.forEach(onEvent);
    from = page.next;
    if (page.done) {
      if (page.error) throw page.error;
      if (page.report) return page.report;
      throw { code: 'APP_INTERNAL', message: 'the validation ended without a report' };
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** Where each state sits in the drawing: the happy path left to right, exits below it. */
export const STATE_POSITIONS: Record<State, { x: number; y: number }> = {
  discovered: { x: 0, y: 0 },
  proposed: { x: 190, y: 0 },
  validated: { x: 380, y: 0 },
  approved: { x: 570, y: 0 },
  promoted: { x: 760, y: 0 },
  no_op: { x: 0, y: 130 },
  quarantined: { x: 120, y: 240 },
  failed_validation: { x: 250, y: 130 },
  superseded: { x: 330, y: 260 },
  denied: { x: 470, y: 130 },
  rejected: { x: 630, y: 150 },
  rolled_back: { x: 760, y: 130 },
};

/** Is `name` a proposal state (e.g. a key of `Status.proposals`)? */
export function isState(name: string): name is State {
  return Object.hasOwn(STATE_POSITIONS, name);
}

/** A check as the Proposals view shows it while a validation runs. */
export type LiveCheckStatus = CheckRunStatus | 'queued' | 'running';

/** The chip tone of a check status or proposal state. */
export function toneOf(status: State | CheckStatus | LiveCheckStatus): 'ok' | 'bad' | 'warn' | 'info' | 'neutral' {
  switch (status) {
    case 'passed':
    case 'validated':
    case 'approved':
    case 'promoted':
      return 'ok';
    case 'failed':
    case 'timed_out':
    case 'error':
    case 'failed_validation':
    case 'denied':
    case 'rejected':
    case 'quarantined':
    case 'rolled_back':
      return 'bad';
    case 'superseded':
    case 'no_op':
      return 'warn';
    case 'running':
    case 'proposed':
      return 'info';
    default:
      return 'neutral';
  }
}

/** Edges of the table walked by a proposal's passed guard records (`from>to` keys). */
export function pathTaken(records: GuardRecord[]): Set<string> {
  return new Set(records.filter((r) => r.outcome === 'passed').map((r) => `${r.from}>${r.to}`));
}
