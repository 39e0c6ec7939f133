import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { render, screen, waitFor } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import { clearMocks, mockIPC } from '@tauri-apps/api/mocks';
import PromotePanel from './PromotePanel.svelte';
import Inbox from '../Inbox.svelte';
import { whoami } from '$lib/stores/whoami.svelte';
import { syncState } from '$lib/stores/sync.svelte';
import SyncBar from './SyncBar.svelte';
import { aheadBehind, missing, runPromotion, type Promoted, type Readiness, type RolloutView, type SyncStatus } from '$lib/rolloutIpc';
import { toasts } from '$lib/stores/toasts.svelte';
import type { ValidationProgress } from '$lib/workflow';
import type { GateStatus } from '$lib/rolloutIpc';

const COMMIT = 'c'.repeat(40);
const REVERT = 'e'.repeat(40);
const KEY = '2'.repeat(64);

const green = (gate: GateStatus['gate'], message: string): GateStatus => ({ gate, ok: true, code: null, message });

function readiness(ready: boolean): Readiness {
  return {
    id: 'p1',
    state: 'approved',
    person: 'lee',
    ready,
    target_branch: 'main',
    target_head: 'a'.repeat(40),
    base_commit: 'a'.repeat(40),
    branch_commit: 'b'.repeat(40),
    carry_over: null,
    approvals: [],
    gates: [
      green('state', 'approved'),
      green('bundle', 'bundle signature and digest verify'),
      ready
        ? green('approvals', 'a lead and an approver approved')
        : { gate: 'approvals', ok: false, code: 'ROLLOUT_APPROVALS_MISSING', message: 'needs a lead: only ana (approver) approved' },
      ready
        ? green('policy', 'policy decision unchanged')
        : { gate: 'policy', ok: false, code: 'ROLLOUT_POLICY_CHANGED', message: 'rule oxide.protected_path: the committed policy changed since the decision' },
      green('promoter', 'lee may promote (lead)'),
    ],
  };
}

function recorded(state: 'approved' | 'promoted' | 'rolled_back'): RolloutView {
  const passed = state === 'promoted';
  return {
    id: 'p1',
    state,
    promotion:
      state === 'approved'
        ? null
        : {
            proposal_id: 'p1',
            target_ref: 'refs/heads/main',
            old_head: 'a'.repeat(40),
            commit: COMMIT,
            person: 'lee',
            keyid: KEY,
            approvals: [KEY],
            carried_over: false,
            at: '2026-11-30T12:00:00Z',
            audit_seq: 40,
          },
    canary:
      state === 'approved'
        ? null
        : {
            run_id: 'c1',
            proposal: 'p1',
            promotion_commit: COMMIT,
            status: passed ? 'passed' : 'failed',
            started_at: '2026-11-30T12:00:01Z',
            finished_at: '2026-11-30T12:00:02Z',
            failure_reason_code: passed ? null : 'CANARY_FAILED',
            checks: [
              {
                name: 'smoke',
                required: true,
                status: passed ? 'passed' : 'failed',
                exit_code: passed ? 0 : 1,
                duration_ms: 40,
                failure_reason_code: null,
                sandboxed: true,
                output: passed ? 'smoke ok\n' : 'smoke broke\n',
                output_truncated: false,
              },
            ],
          },
    rollback:
      state === 'rolled_back'
        ? {
            id: 'p1',
            state: 'rolled_back',
            commit: REVERT,
            failure_reason_code: 'CANARY_FAILED',
            promotion_commit: COMMIT,
            person: 'lee',
            keyid: KEY,
            memory_restored: [],
          }
        : null,
    rollback_trigger: state === 'rolled_back' ? 'automatic' : null,
    rollback_reason: state === 'rolled_back' ? 'canary smoke failed' : null,
  };
}

function promoted(canary: Promoted['canary']): Promoted {
  return {
    id: 'p1',
    state: canary?.rolled_back ? 'rolled_back' : 'promoted',
    commit: COMMIT,
    target_branch: 'main',
    person: 'lee',
    keyid: KEY,
    approvals: [KEY],
    carried_over: false,
    checkpoint_seq: 41,
    warnings: [],
    canary,
  };
}

let calls: [string, Record<string, unknown>][] = [];

afterEach(() => clearMocks());
beforeEach(() => {
  calls = [];
  toasts.items = [];
});

describe('rollout helpers', () => {
  it('lists the gates that say no, in order', () => {
    expect(missing(readiness(false)).map((g) => g.gate)).toEqual(['approvals', 'policy']);
    expect(missing(readiness(true))).toEqual([]);
  });

  it('says how far ahead or behind a clone is', () => {
    expect(aheadBehind(0, 0)).toBe('in step');
    expect(aheadBehind(2, 0)).toBe('2 ahead');
    expect(aheadBehind(0, 3)).toBe('3 behind');
    expect(aheadBehind(1, 4)).toBe('1 ahead, 4 behind');
  });

  it('polls a promotion like a validation run and hands over each canary event', async () => {
    let polls = 0;
    mockIPC((cmd, args) => {
      if (cmd === 'rollout_promote_start') return 'tok';
      if (cmd === 'rollout_promote_poll') {
        polls += 1;
        const from = (args as { from: number }).from;
        const all = [
          { event: 'check_started', name: 'smoke', sandboxed: true },
          { event: 'output', name: 'smoke', stream: 'stdout', line: 'smoke ok' },
        ];
        return polls < 2
          ? { events: all.slice(from, 1), next: 1, done: false, report: null, error: null }
          : { events: all.slice(from), next: 2, done: true, report: promoted(null), error: null };
      }
      throw new Error(`unexpected ${cmd}`);
    });
    const seen: string[] = [];
    const done = await runPromotion('p1', 'lee', (p: ValidationProgress) => seen.push(p.event), 1);
    expect(done.commit).toBe(COMMIT);
    expect(seen).toEqual(['check_started', 'output']);
  });

  it('rejects with the gate that refused', async () => {
    mockIPC((cmd) => {
      if (cmd === 'rollout_promote_start') return 'tok';
      return { events: [], next: 0, done: true, report: null, error: { code: 'ROLLOUT_TARGET_MOVED', message: 'main moved' } };
    });
    await expect(runPromotion('p1', 'lee', () => {}, 1)).rejects.toEqual({ code: 'ROLLOUT_TARGET_MOVED', message: 'main moved' });
  });
});

describe('PromotePanel', () => {
  it('keeps Promote disabled and lists exactly what is missing', async () => {
    mockIPC((cmd, args) => {
      calls.push([cmd, (args ?? {}) as Record<string, unknown>]);
      if (cmd === 'rollout_view') return recorded('approved');
      if (cmd === 'rollout_readiness') return readiness(false);
      throw new Error(`unexpected ${cmd}`);
    });
    render(PromotePanel, { id: 'p1', proposalState: 'approved', person: 'lee' });
    await waitFor(() => expect(screen.getAllByTestId('promote-missing')).toHaveLength(2));
    expect(calls.find(([c]) => c === 'rollout_readiness')?.[1]).toEqual({ id: 'p1', person: 'lee' });
    const gaps = screen.getAllByTestId('promote-missing');
    expect(gaps.map((g) => g.getAttribute('data-gate'))).toEqual(['approvals', 'policy']);
    expect(gaps[0].textContent).toContain('needs a lead: only ana (approver) approved');
    expect(gaps[1].textContent).toContain('rule oxide.protected_path');
    expect(gaps[1].textContent).toContain('ROLLOUT_POLICY_CHANGED');
    expect(screen.getAllByTestId('promote-gate').map((g) => g.getAttribute('data-ok'))).toEqual(['true', 'true', 'false', 'false', 'true']);
    expect(screen.getByTestId('promote-open').hasAttribute('disabled')).toBe(true);
    expect(screen.getByTestId('promote-panel').getAttribute('data-ready')).toBe('false');
  });

  it('says who must be chosen before anything is checked', async () => {
    mockIPC((cmd) => {
      calls.push([cmd, {}]);
      if (cmd === 'rollout_view') return recorded('approved');
      throw new Error(`unexpected ${cmd}`);
    });
    render(PromotePanel, { id: 'p1', proposalState: 'approved', person: null });
    expect(await screen.findByTestId('promote-no-person')).toBeTruthy();
    expect(screen.getByTestId('promote-open').hasAttribute('disabled')).toBe(true);
    expect(calls.map(([c]) => c)).not.toContain('rollout_readiness');
  });

  it('promotes after the confirmation, streams the canary log and shows the recorded commit', async () => {
    const user = userEvent.setup();
    let isPromoted = false;
    let polls = 0;
    mockIPC((cmd, args) => {
      calls.push([cmd, (args ?? {}) as Record<string, unknown>]);
      switch (cmd) {
        case 'rollout_view':
          return recorded(isPromoted ? 'promoted' : 'approved');
        case 'rollout_readiness':
          return readiness(true);
        case 'rollout_promote_start':
          return 'tok';
        case 'rollout_promote_poll': {
          polls += 1;
          const from = (args as { from: number }).from;
          const all = [
            { event: 'run_started', proposal: 'p1', run_id: 'c1', checks: ['smoke'] },
            { event: 'check_started', name: 'smoke', sandboxed: true },
            { event: 'output', name: 'smoke', stream: 'stdout', line: 'smoke ok' },
            { event: 'check_finished', name: 'smoke', status: 'passed', exit_code: 0, duration_ms: 40 },
          ];
          if (polls < 3) return { events: all.slice(from, 3), next: 3, done: false, report: null, error: null };
          isPromoted = true;
          return {
            events: all.slice(from),
            next: 4,
            done: true,
            report: promoted({ run_id: 'c1', status: 'passed', checks: [], failure_reason_code: null, rolled_back: null, rollback_error: null }),
            error: null,
          };
        }
        default:
          throw new Error(`unexpected ${cmd}`);
      }
    });
    render(PromotePanel, { id: 'p1', proposalState: 'approved', person: 'lee' });
    await waitFor(() => expect(screen.getByTestId('promote-open').hasAttribute('disabled')).toBe(false));
    expect(screen.getByTestId('promote-summary').textContent).toContain('every gate is green');
    await user.click(screen.getByTestId('promote-open'));
    // The confirmation has the focus: Enter promotes.
    expect(document.activeElement).toBe(screen.getByTestId('promote-confirm'));
    await user.keyboard('{Enter}');
    await waitFor(() => expect(screen.getAllByTestId('canary-log-line').map((l) => l.textContent)).toContain('[smoke] smoke ok\n'));
    await waitFor(() => expect(toasts.items.at(-1)?.message).toContain(`Promoted as commit ${COMMIT.slice(0, 12)}`));
    expect(toasts.items.at(-1)?.message).toContain('canary passed');
    expect(calls.find(([c]) => c === 'rollout_promote_start')?.[1]).toEqual({ id: 'p1', person: 'lee' });
    await waitFor(() => expect(screen.getByTestId('promotion-commit').textContent).toBe(COMMIT));
    expect(screen.getByTestId('canary-status').textContent).toBe('passed');
    // The target branch moved here: the sync bar's ahead/behind is read again.
    expect(calls.some(([c]) => c === 'sync_status')).toBe(true);
    // Promoted now: no gate list and no Promote any more, Roll back instead.
    expect(screen.queryByTestId('promote-gate')).toBeNull();
    expect(screen.queryByTestId('promote-open')).toBeNull();
    expect(screen.getByTestId('rollback-open')).toBeTruthy();
  });

  it('Escape closes the promotion step without promoting', async () => {
    const user = userEvent.setup();
    mockIPC((cmd) => {
      calls.push([cmd, {}]);
      if (cmd === 'rollout_view') return recorded('approved');
      if (cmd === 'rollout_readiness') return readiness(true);
      throw new Error(`unexpected ${cmd}`);
    });
    render(PromotePanel, { id: 'p1', proposalState: 'approved', person: 'lee', step: 'promote' });
    await screen.findByTestId('promote-step');
    await user.keyboard('{Escape}');
    await waitFor(() => expect(screen.queryByTestId('promote-step')).toBeNull());
    expect(calls.map(([c]) => c)).not.toContain('rollout_promote_start');
  });

  it('follows the live log of a canary another process is running', async () => {
    let done = false;
    let polls = 0;
    mockIPC((cmd, args) => {
      calls.push([cmd, (args ?? {}) as Record<string, unknown>]);
      if (cmd === 'rollout_view') {
        const r = recorded('promoted');
        return done ? r : { ...r, canary: { ...r.canary!, status: 'running', finished_at: null, checks: [] } };
      }
      if (cmd === 'rollout_canary_poll') {
        polls += 1;
        const from = (args as { from: number }).from;
        const all = [
          { event: 'check_started', name: 'smoke', sandboxed: true },
          { event: 'output', name: 'smoke', stream: 'stdout', line: 'warming up' },
          { event: 'check_finished', name: 'smoke', status: 'passed', exit_code: 0, duration_ms: 40 },
        ];
        if (polls < 2) return { events: all.slice(from, 2), next: 2, done: false, run: null };
        done = true;
        return { events: all.slice(from), next: 3, done: true, run: recorded('promoted').canary };
      }
      throw new Error(`unexpected ${cmd}`);
    });
    render(PromotePanel, { id: 'p1', proposalState: 'promoted', person: 'lee' });
    await waitFor(() => expect(screen.getAllByTestId('canary-log-line').map((l) => l.textContent)).toContain('[smoke] warming up\n'));
    expect(calls.find(([c]) => c === 'rollout_canary_poll')?.[1]).toEqual({ runId: 'c1', from: 0 });
    await waitFor(() => expect(screen.getByTestId('canary-status').textContent).toBe('passed'));
    expect(screen.getByTestId('canary-chip').getAttribute('data-status')).toBe('passed');
  });

  it('shows an automatic rollback with its revert commit and reason code', async () => {
    mockIPC((cmd) => {
      if (cmd === 'rollout_view') return recorded('rolled_back');
      throw new Error(`unexpected ${cmd}`);
    });
    render(PromotePanel, { id: 'p1', proposalState: 'rolled_back', person: 'lee' });
    await waitFor(() => expect(screen.getByTestId('rollback-commit').textContent).toBe(REVERT));
    expect(screen.getByTestId('rollback-trigger').textContent).toBe('automatic');
    expect(screen.getByTestId('rollback-code').textContent).toBe('CANARY_FAILED');
    expect(screen.getByTestId('canary-status').textContent).toBe('failed');
    expect(screen.getByTestId('canary').getAttribute('data-status')).toBe('failed');
    expect(screen.queryByTestId('rollback-open')).toBeNull();
    expect(screen.queryByTestId('promote-open')).toBeNull();
  });

  it('rolls back only with a reason', async () => {
    const user = userEvent.setup();
    mockIPC((cmd, args) => {
      calls.push([cmd, (args ?? {}) as Record<string, unknown>]);
      if (cmd === 'rollout_view') return recorded('promoted');
      if (cmd === 'rollout_rollback') return { ...recorded('rolled_back').rollback, failure_reason_code: 'MANUAL_ROLLBACK' };
      throw new Error(`unexpected ${cmd}`);
    });
    render(PromotePanel, { id: 'p1', proposalState: 'promoted', person: 'lee' });
    await waitFor(() => expect(screen.getByTestId('promotion-commit').textContent).toBe(COMMIT));
    await user.click(screen.getByTestId('rollback-open'));
    const reason = await screen.findByTestId('rollback-reason');
    expect(document.activeElement).toBe(reason);
    expect(screen.getByTestId('rollback-confirm').hasAttribute('disabled')).toBe(true);
    await user.keyboard('login broke in staging');
    await user.click(screen.getByTestId('rollback-confirm'));
    await waitFor(() => expect(calls.some(([c]) => c === 'rollout_rollback')).toBe(true));
    expect(calls.find(([c]) => c === 'rollout_rollback')?.[1]).toEqual({ id: 'p1', person: 'lee', reason: 'login broke in staging' });
    await waitFor(() => expect(toasts.items.at(-1)?.message).toContain(`revert commit ${REVERT.slice(0, 12)}`));
  });
});

describe('SyncBar', () => {
  const refusal = {
    device: 'f'.repeat(64),
    kind: 'approval',
    item: 'p2/n1',
    code: 'SYNC_APPROVAL_REFUSED',
    message: 'the approval does not verify against the committed registry',
  };
  const status = (over: Partial<SyncStatus> = {}): SyncStatus => ({
    remote: 'origin',
    last_sync: null,
    ahead: 2,
    behind: 0,
    arrived: [],
    refused: [],
    ...over,
  });
  const report = {
    remote: 'origin',
    device: 'd'.repeat(64),
    pushed: 3,
    fetched: 1,
    pushed_refs: [],
    fetched_refs: [],
    received: { devices: 1, events: 4, proposals: ['p1'], validations: ['p1/r1'], approvals: ['p1/n0'] },
    promoted: [],
    superseded: [],
    refused: [refusal],
    target: { branch: 'main', local: null, remote: null, ahead: 0, behind: 0 },
    at: '2026-11-30T12:00:00Z',
  };

  beforeEach(() => {
    whoami.person = 'lee';
    whoami.loaded = true;
    syncState.status = null;
    syncState.error = null;
  });

  it('shows the last sync and how far ahead, and syncs on demand as who I am', async () => {
    const user = userEvent.setup();
    let synced = false;
    let changed = 0;
    mockIPC((cmd, args) => {
      calls.push([cmd, (args ?? {}) as Record<string, unknown>]);
      if (cmd === 'sync_status')
        return synced
          ? status({
              last_sync: '2026-11-30T12:00:00Z',
              ahead: 0,
              arrived: [
                { kind: 'proposal', item: 'p1' },
                { kind: 'approval', item: 'p1/n0' },
              ],
              refused: [refusal],
            })
          : status();
      if (cmd === 'sync_run') {
        synced = true;
        return report;
      }
      throw new Error(`unexpected ${cmd}`);
    });
    render(SyncBar, { onsynced: () => (changed += 1) });
    await waitFor(() => expect(screen.getByTestId('sync-last').textContent).toBe('never synced'));
    expect(screen.getByTestId('sync-ahead-behind').textContent).toBe('2 ahead');
    await user.click(screen.getByTestId('sync-run'));
    await waitFor(() => expect(screen.getByTestId('sync-last').textContent).toBe('synced 2026-11-30T12:00:00Z'));
    expect(calls.find(([c]) => c === 'sync_run')?.[1]).toEqual({ remote: null, person: 'lee' });
    expect(changed).toBe(1);
    expect(screen.getByTestId('sync-ahead-behind').textContent).toBe('in step');
    expect(screen.getAllByTestId('sync-arrived').map((a) => a.textContent)).toEqual(['proposal p1', 'approval p1/n0']);
    expect(screen.getByTestId('sync-refused').textContent).toContain('SYNC_APPROVAL_REFUSED');
    expect(toasts.items.some((t) => t.code === 'SYNC_APPROVAL_REFUSED')).toBe(true);
    expect(toasts.items.some((t) => t.message.includes('pushed 3, fetched 1; 3 arrived'))).toBe(true);
  });

  it('disables Sync without a remote', async () => {
    mockIPC((cmd) => {
      if (cmd === 'sync_status') return status({ remote: null, ahead: 0 });
      throw new Error(`unexpected ${cmd}`);
    });
    render(SyncBar);
    await waitFor(() => expect(screen.getByTestId('sync-status')).toBeTruthy());
    expect(screen.getByTestId('sync-run').hasAttribute('disabled')).toBe(true);
    expect(screen.queryByTestId('sync-ahead-behind')).toBeNull();
  });
});

describe('Inbox: ready to promote', () => {
  function approvedView(id: string) {
    return {
      id,
      digest: `sha256:${'d'.repeat(64)}`,
      state: 'approved',
      bundle: {
        schema_version: 'oxide.proposal/v1',
        skill_digest: `sha256:${'c'.repeat(64)}`,
        base: { branch: 'main', commit: 'a'.repeat(40) },
        intent: { rationale: `Change ${id}`, risk_hints: [], ops: [] },
        provenance: { synthesizer: 'manual', model: null, model_digest: null, options: null, prompt_template_version: null, prompt_sha256: null, response_sha256: null },
        created_at: '2026-11-30T10:00:00Z',
      },
      failure_reason_code: null,
      policy_reason_code: null,
      superseded_by: null,
      created_at: '2026-11-30T10:00:00Z',
      updated_at: '2026-11-30T10:00:00Z',
      branch: null,
      checks: [],
      transitions: [],
    };
  }

  beforeEach(() => {
    whoami.person = null;
    whoami.loaded = false;
  });

  it('lists the approved proposals a lead may promote, and p opens the promotion of a ready one', async () => {
    const user = userEvent.setup();
    mockIPC((cmd, args) => {
      calls.push([cmd, (args ?? {}) as Record<string, unknown>]);
      const a = (args ?? {}) as Record<string, string>;
      switch (cmd) {
        case 'whoami_get':
          return 'lee';
        case 'approval_inbox':
          return { person: 'lee', roles: ['lead'], items: [], problems: [] };
        case 'rollout_queue':
          return {
            person: 'lee',
            may_promote: true,
            items: [
              { id: 'p1', rationale: 'Change p1', risk: 'high', ready: true, missing: [] },
              { id: 'p2', rationale: 'Change p2', risk: 'low', ready: false, missing: [readiness(false).gates[3]] },
            ],
            problems: [],
          };
        case 'proposal_detail':
          return { proposal: { ...approvedView(a.id), skill_id: null }, diff: { base_commit: 'a'.repeat(40), base_tree: null, head_tree: null, branch: `oxide/proposals/${a.id}`, head_commit: 'b'.repeat(40), files: [], problems: [] } };
        case 'proposal_view':
          return approvedView(a.id);
        case 'policy_gates':
          return [];
        case 'approval_status':
          return { id: a.id, state: 'approved', facts: null, approvals: [], tally: { required: { count: 2, roles: ['lead', 'approver'] }, slots: ['lead', 'approver'], counted: [], not_counted: [], blocking: [], missing: [], satisfied: true }, problems: [] };
        case 'approval_preview':
          throw { code: 'APPROVAL_STATE', message: 'p1 is approved already' };
        case 'rollout_view':
          return recorded('approved');
        case 'rollout_readiness':
          return readiness(a.id === 'p1');
        case 'proposal_history':
          return { id: a.id, state: 'approved', entries: [] };
        case 'status':
          return { workspace: '/w', db: '/d', audit_events: 1, proposals: {}, initialized: true };
        default:
          throw new Error(`unexpected ${cmd}`);
      }
    });
    render(Inbox);
    await waitFor(() => expect(screen.getAllByTestId('promote-item')).toHaveLength(2));
    expect(screen.getAllByTestId('promote-item-label').map((e) => e.textContent)).toEqual(['ready to promote', 'not ready']);
    expect(screen.getByTestId('promote-item-missing').textContent).toContain('the committed policy changed');
    expect(calls.find(([c]) => c === 'rollout_queue')?.[1]).toEqual({ person: 'lee' });

    // j goes to the first one; p opens its promotion step.
    await user.keyboard('j');
    await waitFor(() => expect(screen.getByTestId('promote-open').hasAttribute('disabled')).toBe(false));
    await user.keyboard('p');
    expect(await screen.findByTestId('promote-step')).toBeTruthy();
    // The second is not ready: p does nothing there, and its page says why.
    await user.keyboard('{Escape}j');
    await waitFor(() => expect(screen.getAllByTestId('promote-missing').map((e) => e.getAttribute('data-gate'))).toEqual(['approvals', 'policy']));
    await user.keyboard('p');
    expect(screen.queryByTestId('promote-step')).toBeNull();
    expect(screen.getByTestId('promote-open').hasAttribute('disabled')).toBe(true);
  });
});
