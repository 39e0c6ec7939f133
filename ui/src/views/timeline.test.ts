import { afterEach, describe, expect, it } from 'vitest';
import { render, screen, waitFor, within } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import { clearMocks, mockIPC } from '@tauri-apps/api/mocks';
import Timeline from './Timeline.svelte';
import ProposalHistory from './proposals/ProposalHistory.svelte';
import Charts from './Charts.svelte';
import { toasts } from '$lib/stores/toasts.svelte';
import { navigation } from '$lib/stores/navigate.svelte';

afterEach(() => {
  clearMocks();
  toasts.clear();
  navigation.request = null;
});

const HEAD = 1000;
const LOCAL = { device: 'aa'.repeat(32), local: true, person: 'maintainer', events: HEAD };
const REMOTE = { device: 'bb'.repeat(32), local: false, person: 'approver', events: 7 };
function ev(seq: number) {
  return {
    seq,
    ts: '2026-11-21T04:00:00Z',
    actor: 'alice',
    kind: seq % 2 ? 'workflow.validate' : 'policy.decision',
    subject: seq % 2 ? 'p-1a2b3c' : 'p-ffffff',
    payload: { n: seq },
    prev: seq > 1 ? `sha256:${seq - 1}` : null,
    hash: `sha256:${seq}`,
  };
}

interface Query {
  filter: { kinds: string[]; subject: string | null };
  before: number | null;
  after: number | null;
  jump: unknown;
  limit: number;
}

/** A backend over seqs 1..HEAD answering timeline queries like the core (newest first). */
function backend(extra: (cmd: string, args: Record<string, unknown>) => unknown = () => undefined) {
  const queries: Query[] = [];
  const calls: [string, Record<string, unknown>][] = [];
  mockIPC((cmd, args) => {
    const a = (args ?? {}) as Record<string, unknown>;
    calls.push([cmd, a]);
    const own = extra(cmd, a);
    if (own !== undefined) return own;
    if (cmd === 'timeline_page') {
      const q = a.query as Query;
      queries.push(q);
      let seqs = Array.from({ length: HEAD }, (_, i) => i + 1);
      if (q.filter.kinds.length) seqs = seqs.filter((s) => q.filter.kinds.includes(ev(s).kind));
      let picked: number[];
      if (q.after !== null) picked = seqs.filter((s) => s > q.after!).slice(0, q.limit);
      else {
        const below = seqs.filter((s) => q.before === null || s < q.before);
        picked = below.slice(Math.max(0, below.length - q.limit));
      }
      return { events: picked.reverse().map(ev), has_newer: false, has_older: false, newer_cursor: null, older_cursor: null, anchor: null };
    }
    if (cmd === 'timeline_count') return (a.filter as Query['filter']).kinds.length ? HEAD / 2 : HEAD;
    if (cmd === 'timeline_devices') return [LOCAL];
    throw new Error(`unexpected ${cmd}`);
  });
  return { queries, calls };
}

const seqs = () => screen.getAllByTestId('audit-seq').map((e) => Number(e.textContent));

describe('Timeline at scale', () => {
  it('opens at the newest event and pages by seq, never by offset', async () => {
    const { queries } = backend();
    render(Timeline);
    await waitFor(() => expect(seqs()[0]).toBe(HEAD));
    expect(seqs().slice(0, 3)).toEqual([HEAD, HEAD - 1, HEAD - 2]);
    await waitFor(() => expect(screen.getByTestId('timeline-count').textContent).toBe('1,000 events'));
    expect(screen.getByTestId('vlist-viewport').dataset.topSeq).toBe(String(HEAD));
    for (const q of queries) expect(q.limit).toBeLessThanOrEqual(50);
    // Page Down moves the top row by a page.
    const viewport = screen.getByTestId('vlist-viewport');
    viewport.focus();
    await userEvent.keyboard('{PageDown}');
    await waitFor(() => expect(Number(viewport.dataset.topSeq)).toBe(HEAD - 19));
    await userEvent.keyboard('{End}');
    await waitFor(() => expect(seqs().at(-1)).toBe(1));
    expect(screen.getByTestId('vlist-scrollbar').getAttribute('aria-valuenow')).toBe('100');
  });

  it('filters by chips and clears them', async () => {
    const { queries } = backend();
    render(Timeline);
    await waitFor(() => expect(seqs()[0]).toBe(HEAD));
    await userEvent.selectOptions(screen.getByTestId('filter-field'), 'kind');
    await userEvent.type(screen.getByTestId('filter-value'), 'policy.decision');
    await userEvent.click(screen.getByTestId('filter-add'));
    await waitFor(() => expect(screen.getAllByTestId('audit-kind').every((k) => k.textContent === 'policy.decision')).toBe(true));
    expect(queries.at(-1)!.filter.kinds).toEqual(['policy.decision']);
    await waitFor(() => expect(screen.getByTestId('timeline-count').textContent).toBe('500 events match'));
    expect(screen.getByTestId('filter-chip').textContent).toContain('Kind: policy.decision');
    await userEvent.click(screen.getByTestId('filter-remove'));
    await waitFor(() => expect(seqs()[0]).toBe(HEAD));
    expect(queries.at(-1)!.filter.kinds).toEqual([]);
  });

  it('jumps to a seq and a time, and refuses a seq that is not one', async () => {
    const { queries } = backend();
    render(Timeline);
    await waitFor(() => expect(seqs()[0]).toBe(HEAD));
    await userEvent.type(screen.getByTestId('jump-seq'), '321');
    await userEvent.click(screen.getByTestId('jump-seq-go'));
    await waitFor(() => expect(seqs()[0]).toBe(321));
    await userEvent.type(screen.getByTestId('jump-time'), '2026-11-21 04:00');
    await userEvent.click(screen.getByTestId('jump-time-go'));
    await waitFor(() => expect(queries.some((q) => JSON.stringify(q.jump) === '{"time":"2026-11-21T04:00:00Z"}')).toBe(true));
    await userEvent.clear(screen.getByTestId('jump-seq'));
    await userEvent.type(screen.getByTestId('jump-seq'), 'abc');
    await userEvent.click(screen.getByTestId('jump-seq-go'));
    expect(toasts.items.at(-1)).toMatchObject({ kind: 'error', code: 'UI_BAD_SEQ' });
  });

  it("opens an event's detail with its canonical payload, hash, prev and proposal", async () => {
    backend((cmd, a) =>
      cmd === 'timeline_event'
        ? { event: ev(a.seq as number), canonical_payload: `{"n":${a.seq}}`, proposal: 'p-1a2b3c' }
        : undefined,
    );
    render(Timeline);
    await waitFor(() => expect(seqs()[0]).toBe(HEAD));
    const row = screen.getAllByTestId('vlist-row').find((r) => r.dataset.seq === '999')!;
    await userEvent.click(row);
    await waitFor(() => expect(screen.getByTestId('event-detail-payload').textContent).toBe('{"n":999}'));
    expect(screen.getByTestId('event-detail-hash').textContent).toBe('sha256:999');
    expect(screen.getByTestId('event-detail-prev').textContent).toBe('sha256:998');
    expect(row.getAttribute('aria-selected')).toBe('true');
    await userEvent.click(screen.getByTestId('event-detail-proposal'));
    expect(navigation.request).toEqual({ view: 'proposals', proposal: 'p-1a2b3c' });
  });

  it('verifies chunk by chunk with progress and exports the filtered range', async () => {
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => (release = r));
    const { calls } = backend((cmd, a) => {
      if (cmd === 'audit_verify_step') {
        if (a.cursor === null) return { checked: 50_000, total: 150_000, cursor: { last_seq: 50_000, prev: 'sha256:x', events: 50_000 }, verdict: null };
        return gate.then(() => ({ checked: 150_000, total: 150_000, cursor: null, verdict: { ok: false, events: 120_000, first_bad_seq: 119_999, problem: 'event 119999 was altered' } }));
      }
      if (cmd === 'timeline_export') return 1000;
      return undefined;
    });
    render(Timeline);
    await waitFor(() => expect(seqs()[0]).toBe(HEAD));
    await userEvent.click(screen.getByTestId('verify-button'));
    await waitFor(() => expect(screen.getByTestId('verify-progress').textContent).toContain('33% · 50,000 of 150,000'));
    release();
    await waitFor(() => expect(screen.getByTestId('verify-result').textContent).toContain('Broken at seq 119999'));
    const steps = calls.filter(([c]) => c === 'audit_verify_step').map(([, a]) => a.cursor);
    expect(steps).toEqual([null, { last_seq: 50_000, prev: 'sha256:x', events: 50_000 }]);
    await userEvent.click(screen.getByTestId('export-button'));
    await waitFor(() => expect(toasts.items.at(-1)).toMatchObject({ kind: 'success', message: 'Exported 1000 events.' }));
    expect(calls.find(([c]) => c === 'timeline_export')![1].filter).toMatchObject({ kinds: [], subject: null });
  });

  it("pages a received device's chain through the device chip, verifies it and names it in the detail", async () => {
    const remoteEv = (seq: number) => ({ ...ev(seq), actor: 'approver', kind: 'signing.approval', hash: `sha256:r${seq}` });
    const { calls } = backend((cmd, a) => {
      if (cmd === 'timeline_devices') return [LOCAL, REMOTE];
      if (a.device === REMOTE.device) {
        if (cmd === 'timeline_page') {
          const q = a.query as Query;
          const all = [7, 6, 5, 4, 3, 2, 1].filter((s) => (q.before === null || s < q.before) && (q.after === null || s > q.after));
          return { events: all.slice(0, q.limit).map(remoteEv), has_newer: false, has_older: false, newer_cursor: null, older_cursor: null, anchor: null };
        }
        if (cmd === 'timeline_count') return 7;
        if (cmd === 'timeline_event') return { event: remoteEv(a.seq as number), canonical_payload: '{}', proposal: null, device: REMOTE.device };
      }
      if (cmd === 'timeline_verify_device') {
        expect(a).toEqual({ device: REMOTE.device });
        return { device: REMOTE.device, person: 'approver', ok: false, events: 7, checkpoint: 7, first_bad_seq: 3, problems: ['event 3 was altered: its content does not match its hash'] };
      }
      return undefined;
    });
    render(Timeline);
    await waitFor(() => expect(seqs()[0]).toBe(HEAD));
    const select = await screen.findByTestId('device-select');
    expect(within(select).getAllByRole('option').map((o) => o.textContent)).toEqual([
      `This device · ${'aa'.repeat(6)} · 1,000 events`,
      `${'bb'.repeat(6)} · approver · 7 events`,
    ]);
    await userEvent.selectOptions(select, REMOTE.device);
    await waitFor(() => expect(seqs()).toEqual([7, 6, 5, 4, 3, 2, 1]));
    expect(screen.getAllByTestId('audit-kind').every((k) => k.textContent === 'signing.approval')).toBe(true);
    expect(screen.getByTestId('device-chip').textContent).toContain(`Device: ${'bb'.repeat(6)} · approver`);
    expect(screen.getByTestId('audit-table').dataset.device).toBe(REMOTE.device);
    // The word search (this device's own index) is not offered for another device's chain.
    expect(within(screen.getByTestId('filter-field')).queryByRole('option', { name: 'Text' })).toBeNull();
    await waitFor(() => expect(screen.getByTestId('timeline-count').textContent).toBe('7 events'));
    // Pages and the count asked for that device; export is this device's only.
    expect(calls.filter(([c]) => c === 'timeline_page').at(-1)![1].device).toBe(REMOTE.device);
    expect((screen.getByTestId('export-button') as HTMLButtonElement).disabled).toBe(true);
    // The verify badge checks that device's chain and names the first bad seq.
    await userEvent.click(screen.getByTestId('verify-button'));
    await waitFor(() => expect(screen.getByTestId('verify-result').textContent).toContain(`${'bb'.repeat(6)}: broken at seq 3`));
    expect(screen.getByTestId('verify-result').dataset.tone).toBe('bad');
    expect(screen.getByTestId('verify-problem').textContent).toContain('event 3 was altered');
    expect(calls.some(([c]) => c === 'audit_verify_step')).toBe(false);
    // The detail names the device.
    await userEvent.click(screen.getAllByTestId('vlist-row').find((r) => r.dataset.seq === '5')!);
    await waitFor(() => expect(screen.getByTestId('event-detail-device').textContent).toContain(`${REMOTE.device} (endorsed by approver)`));
    expect(screen.getByTestId('event-detail-hash').textContent).toBe('sha256:r5');
    // Removing the chip shows this device's chain again.
    await userEvent.click(screen.getByTestId('device-remove'));
    await waitFor(() => expect(seqs()[0]).toBe(HEAD));
    expect(screen.queryByTestId('device-chip')).toBeNull();
    expect(within(screen.getByTestId('filter-field')).getByRole('option', { name: 'Text' })).toBeTruthy();
    expect(calls.filter(([c]) => c === 'timeline_page').at(-1)![1].device).toBeNull();
  });

  it('shows the event a link asked for', async () => {
    backend((cmd, a) =>
      cmd === 'timeline_event' ? { event: ev(a.seq as number), canonical_payload: '{}', proposal: null } : undefined,
    );
    navigation.go({ view: 'timeline', seq: 77 });
    render(Timeline);
    await waitFor(() => expect(screen.getByTestId('event-detail-seq').textContent).toBe('77'));
    await waitFor(() => expect(seqs()[0]).toBe(77));
    expect(navigation.request).toBeNull();
  });
});

describe('ProposalHistory', () => {
  it("lists a proposal's steps in order, each linked to its audit event", async () => {
    const record = { id: 1, proposal: 'p-1', from: 'proposed', to: 'validated', guard: 'validate', outcome: 'passed', failure_reason_code: null, policy_reason_code: null, inputs_digest: 'sha256:i', at: '2026-11-21T04:00:01Z', audit_seq: 12 };
    mockIPC((cmd, args) => {
      if (cmd !== 'proposal_history') throw new Error(cmd);
      expect(args).toEqual({ id: 'p-1' });
      return {
        id: 'p-1',
        state: 'validated',
        entries: [
          { type: 'event', audit_seq: 10, at: '2026-11-21T04:00:00Z', event: { ...ev(10), kind: 'workflow.import' } },
          { type: 'check_run', audit_seq: 11, at: '2026-11-21T04:00:00.5Z', run: { run_id: 'r', status: 'finished', started_at: 'x', finished_at: 'y', checks: [{ status: 'passed' }, { status: 'failed' }] } },
          { type: 'guard', audit_seq: 12, at: record.at, record },
          { type: 'policy_decision', audit_seq: 13, at: '2026-11-21T04:00:02Z', decision: { outcome: 'denied', risk: 'high', policy_reason_code: 'POLICY_PROTECTED_PATH' } },
          { type: 'check_run', audit_seq: null, at: '2026-11-21T04:00:03Z', run: { run_id: 'q', status: 'abandoned', started_at: 'x', finished_at: null, checks: [] } },
        ],
      };
    });
    render(ProposalHistory, { id: 'p-1' });
    await waitFor(() => expect(screen.getAllByTestId('history-item')).toHaveLength(5));
    const items = screen.getAllByTestId('history-item');
    expect(items.map((i) => i.dataset.type)).toEqual(['event', 'check_run', 'guard', 'policy_decision', 'check_run']);
    expect(items[1].textContent).toContain('2 checks, 1 not passed');
    expect(items[2].textContent).toContain('proposed → validated · passed');
    expect(items[3].textContent).toContain('denied · risk high (POLICY_PROTECTED_PATH)');
    expect(within(items[4]).queryByTestId('history-event-link')).toBeNull();
    await userEvent.click(within(items[2]).getByTestId('history-event-link'));
    expect(navigation.request).toEqual({ view: 'timeline', seq: 12 });
  });
});

describe('Charts view', () => {
  it('asks for the chosen range and says plainly what has no data yet', async () => {
    const asked: unknown[] = [];
    mockIPC((cmd, args) => {
      if (cmd !== 'charts') throw new Error(cmd);
      asked.push((args as { filter: unknown }).filter);
      return {
        events_per_day: [{ day: '2026-11-20', kind: 'workflow.validate', count: 3 }],
        proposals_by_state: [],
        proposals_by_risk: [],
        lead_times: [],
        denials_by_policy_reason: [{ code: 'POLICY_PROTECTED_PATH', count: 2 }],
        failures_by_failure_reason: [],
      };
    });
    render(Charts);
    await waitFor(() => expect(screen.getByTestId('charts-view').dataset.loaded).toBe('true'));
    expect(screen.getByTestId('canvas-events').getAttribute('aria-label')).toContain('per day');
    expect(screen.getByTestId('canvas-denials')).toBeTruthy();
    expect(screen.getByTestId('chart-states').textContent).toContain('No proposal has changed state yet.');
    expect(screen.getByTestId('chart-failures').textContent).toContain('No failure recorded');
    const since = (asked[0] as { since: string }).since;
    expect(since).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    await userEvent.selectOptions(screen.getByTestId('charts-days'), '30');
    await waitFor(() => expect(asked).toHaveLength(2));
    expect((asked[1] as { since: string }).since > since).toBe(true);
  });
});
