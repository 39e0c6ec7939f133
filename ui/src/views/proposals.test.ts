import { afterEach, describe, expect, it } from 'vitest';
import { render, screen, waitFor } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import { clearMocks, mockIPC } from '@tauri-apps/api/mocks';
import StateGraph from './proposals/StateGraph.svelte';
import Proposals from './Proposals.svelte';
import { pathTaken, runValidation, toneOf, type GuardRecord, type State, type TableEdge } from '$lib/workflow';

afterEach(() => clearMocks());

const table: TableEdge[] = [
  { transition: 'admit', from: 'discovered', to: 'proposed' },
  { transition: 'pass_validation', from: 'proposed', to: 'validated' },
  { transition: 'fail_validation', from: 'proposed', to: 'failed_validation' },
];

function rec(id: number, guard: string, from: State, to: State, outcome = 'passed'): GuardRecord {
  return {
    id,
    proposal: 'p1',
    from,
    to,
    guard,
    outcome,
    failure_reason_code: null,
    policy_reason_code: null,
    inputs_digest: 'sha256:00',
    at: '2026-11-21T05:00:00Z',
    audit_seq: id,
  };
}

describe('workflow helpers', () => {
  it('marks only passed guards as the path taken', () => {
    const taken = pathTaken([rec(1, 'admit', 'discovered', 'proposed'), rec(2, 'approve', 'validated', 'approved', 'denied')]);
    expect([...taken]).toEqual(['discovered>proposed']);
    expect(toneOf('failed_validation')).toBe('bad');
    expect(toneOf('passed')).toBe('ok');
  });

  it('polls a validation to its report, handing over every event once', async () => {
    let polls = 0;
    mockIPC((cmd, args) => {
      if (cmd === 'validate_start') return 'tok';
      if (cmd === 'validate_poll') {
        polls += 1;
        const from = (args as { from: number }).from;
        const all = [
          { event: 'check_started', name: 'unit', sandboxed: false },
          { event: 'output', name: 'unit', stream: 'stdout', line: 'hello' },
        ];
        return polls < 2
          ? { events: all.slice(from, 1), next: 1, done: false, report: null, error: null }
          : { events: all.slice(from), next: 2, done: true, report: { id: 'p1', state: 'validated' }, error: null };
      }
      throw new Error(`unexpected ${cmd}`);
    });
    const seen: string[] = [];
    const rep = await runValidation('p1', (p) => seen.push(p.event), 1);
    expect(rep.state).toBe('validated');
    expect(seen).toEqual(['check_started', 'output']);
  });

  it('rejects with the core error of a failed run', async () => {
    mockIPC((cmd) => {
      if (cmd === 'validate_start') return 'tok';
      return { events: [], next: 0, done: true, report: null, error: { code: 'CHECKS_NONE', message: 'no checks' } };
    });
    await expect(runValidation('p1', () => {}, 1)).rejects.toEqual({ code: 'CHECKS_NONE', message: 'no checks' });
  });
});

describe('StateGraph', () => {
  it('shows the current state, the path taken, and selects a state on click', async () => {
    const picked: string[] = [];
    render(StateGraph, {
      table,
      current: 'validated',
      records: [rec(1, 'admit', 'discovered', 'proposed'), rec(2, 'pass_validation', 'proposed', 'validated')],
      selected: null,
      onselect: (s: string) => picked.push(s),
    });
    expect(screen.getByTestId('state-node-validated').dataset.current).toBe('true');
    expect(screen.getByTestId('state-node-proposed').dataset.visited).toBe('true');
    expect(screen.getByTestId('state-node-failed_validation').dataset.visited).toBe('false');
    const taken = screen.getAllByTestId('state-edge').filter((e) => e.dataset.taken === 'true');
    expect(taken.map((e) => `${e.dataset.from}>${e.dataset.to}`)).toEqual(['discovered>proposed', 'proposed>validated']);
    await userEvent.setup().click(screen.getByTestId('state-node-validated'));
    expect(picked).toEqual(['validated']);
  });
});

describe('Proposals view', () => {
  it('shows the board and the list, and rationale stays text', async () => {
    mockIPC((cmd) => {
      switch (cmd) {
        case 'status':
          return { workspace: '/w', db: '/d', audit_events: 2, proposals: { proposed: 1, validated: 0 }, initialized: true };
        case 'proposals_list':
          return [
            {
              id: 'abc123abc123',
              digest: 'sha256:00',
              state: 'proposed',
              rationale: '<b>bold</b> claim',
              synthesizer: 'manual',
              base_branch: 'main',
              failure_reason_code: null,
              policy_reason_code: null,
              created_at: 't',
              updated_at: 't',
            },
          ];
        case 'workflow_table':
          return table;
        default:
          throw new Error(`unexpected ${cmd}`);
      }
    });
    render(Proposals);
    await waitFor(() => expect(screen.getByTestId('board-proposed').dataset.count).toBe('1'));
    const row = await screen.findByTestId('proposal-row');
    expect(row.dataset.id).toBe('abc123abc123');
    expect(row.textContent).toContain('<b>bold</b> claim');
    expect(row.querySelector('b')).toBeNull();
  });
});
