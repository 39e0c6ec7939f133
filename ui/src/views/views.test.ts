import { afterEach, describe, expect, it } from 'vitest';
import { render, screen, waitFor } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import { clearMocks, mockIPC } from '@tauri-apps/api/mocks';
import Timeline from './Timeline.svelte';
import WorkspacePicker from './WorkspacePicker.svelte';
import OllamaBanner from './OllamaBanner.svelte';
import { WorkspaceStore } from '$lib/stores/workspace.svelte';
import { OllamaStore } from '$lib/stores/ollama.svelte';
import { toasts } from '$lib/stores/toasts.svelte';

const status = (workspace: string) => ({ workspace, db: '/data/x.sqlite3', audit_events: 1, proposals: {}, initialized: true });
const initEvent = {
  seq: 1,
  ts: '2026-11-21T04:00:00.123Z',
  actor: 'oxide',
  kind: 'workspace.init',
  subject: '/w',
  payload: {},
  prev: null,
  hash: 'sha256:00112233445566778899',
};

afterEach(() => {
  clearMocks();
  toasts.clear();
});

/** One page of the timeline holding `events`. */
const page = (events: unknown[]) => ({ events, has_newer: false, has_older: false, newer_cursor: null, older_cursor: null, anchor: null });
/** The device list of a database that never synced: this device only. */
const thisDevice = { device: 'ab'.repeat(32), local: true, person: null, events: 1 };

/** The last chunk of a verification, with `verdict`. */
const lastStep = (verdict: unknown) => ({ checked: 3, total: 3, cursor: null, verdict });

describe('Timeline', () => {
  it('lists the audit events and shows the verification result', async () => {
    mockIPC((cmd) => {
      if (cmd === 'timeline_page') return page([initEvent]);
      if (cmd === 'timeline_count') return 1;
      if (cmd === 'timeline_devices') return [thisDevice];
      if (cmd === 'audit_verify_step') return lastStep({ ok: true, events: 1, first_bad_seq: null, problem: null });
      throw new Error(`unexpected ${cmd}`);
    });
    render(Timeline);
    await waitFor(() => expect(screen.getAllByTestId('audit-kind').map((e) => e.textContent)).toEqual(['workspace.init']));
    expect(screen.getByTestId('audit-table').textContent).toContain('2026-11-21 04:00:00');
    await userEvent.click(screen.getByTestId('verify-button'));
    await waitFor(() => expect(screen.getByTestId('verify-result').textContent).toContain('Chain intact · 1 event'));
    expect(screen.getByTestId('verify-result').dataset.tone).toBe('ok');
  });

  it('names the first bad seq when the chain is broken', async () => {
    mockIPC((cmd) =>
      cmd === 'timeline_page'
        ? page([initEvent])
        : cmd === 'timeline_count'
          ? 1
          : cmd === 'timeline_devices'
            ? [thisDevice]
            : lastStep({ ok: false, events: 3, first_bad_seq: 2, problem: 'hash does not match the event' }),
    );
    render(Timeline);
    await userEvent.click(screen.getByTestId('verify-button'));
    await waitFor(() => expect(screen.getByTestId('verify-result').textContent).toContain('Broken at seq 2'));
    expect(screen.getByTestId('verify-problem').textContent).toContain('hash does not match the event');
  });

  it('turns a failure into an error toast with its code', async () => {
    mockIPC(() => {
      throw { code: 'NO_WORKSPACE', message: 'No workspace is open.' };
    });
    render(Timeline);
    await waitFor(() => expect(toasts.items).toHaveLength(1));
    expect(toasts.items[0]).toMatchObject({ kind: 'error', code: 'NO_WORKSPACE' });
  });
});

describe('WorkspacePicker', () => {
  it('opens a recent workspace and refreshes the list', async () => {
    const opened: unknown[] = [];
    mockIPC((cmd, args) => {
      if (cmd === 'open_workspace') {
        opened.push(args);
        return status('/repos/b');
      }
      if (cmd === 'recent_workspaces') return [{ path: '/repos/b', opened_at: 'now' }, { path: '/repos/a', opened_at: 'then' }];
      throw new Error(cmd);
    });
    const store = new WorkspaceStore();
    store.recent = [{ path: '/repos/a', opened_at: 'then' }, { path: '/repos/b', opened_at: 'then' }];
    let closed = 0;
    render(WorkspacePicker, { store, onopened: () => closed++ });
    await userEvent.click(screen.getAllByTestId('recent-item')[1]);
    await waitFor(() => expect(store.status?.workspace).toBe('/repos/b'));
    expect(opened).toEqual([{ path: '/repos/b' }]);
    expect(closed).toBe(1);
    expect(store.generation).toBe(1);
    await waitFor(() => expect(screen.getAllByTestId('recent-item')[0].textContent).toBe('/repos/b'));
  });

  it('opens a typed path and reports a refusal with its code', async () => {
    mockIPC(() => {
      throw { code: 'WORKSPACE_NOT_GIT', message: '/tmp/x is not a git repository; run git init first' };
    });
    const store = new WorkspaceStore();
    render(WorkspacePicker, { store });
    await userEvent.type(screen.getByTestId('workspace-path-input'), '/tmp/x');
    await userEvent.click(screen.getByTestId('workspace-path-open'));
    await waitFor(() => expect(store.error?.code).toBe('WORKSPACE_NOT_GIT'));
    expect(toasts.items[0]).toMatchObject({ kind: 'error', code: 'WORKSPACE_NOT_GIT' });
    expect(store.status).toBeNull();
  });

  it('does nothing when the folder picker is cancelled', async () => {
    const seen: string[] = [];
    mockIPC((cmd) => {
      seen.push(cmd);
      return null;
    });
    const store = new WorkspaceStore();
    render(WorkspacePicker, { store });
    await userEvent.click(screen.getByTestId('pick-folder'));
    await waitFor(() => expect(seen).toEqual(['pick_folder']));
    expect(store.status).toBeNull();
  });
});

describe('OllamaBanner', () => {
  it('says plainly when Ollama is not reachable', async () => {
    mockIPC(() => ({ reachable: false, host: 'http://127.0.0.1:11434', version: null, message: 'connection refused' }));
    const store = new OllamaStore();
    render(OllamaBanner, { store });
    expect(screen.queryByTestId('ollama-banner')).toBeNull();
    await store.check();
    await waitFor(() => expect(screen.getByTestId('ollama-banner').textContent).toContain('Ollama is not reachable at'));
    expect(screen.getByTestId('ollama-banner-message').textContent).toBe('connection refused');
  });

  it('stays hidden when Ollama answers', async () => {
    mockIPC(() => ({ reachable: true, host: 'http://127.0.0.1:11434', version: '0.12.0', message: 'ok' }));
    const store = new OllamaStore();
    render(OllamaBanner, { store });
    await store.check();
    expect(screen.queryByTestId('ollama-banner')).toBeNull();
  });
});

describe('StatusPanel', () => {
  it('shows the counts and warns about a repository without .oxide', async () => {
    const { default: StatusPanel } = await import('./StatusPanel.svelte');
    render(StatusPanel, {
      status: {
        workspace: '/repos/x',
        db: '/data/x.sqlite3',
        audit_events: 3,
        proposals: { proposed: 2, promoted: 0 },
        initialized: false,
        target_branch: 'main',
        drafts: ['.oxide/oxide.toml'],
      },
    });
    expect(screen.getByTestId('status-target-branch').textContent).toBe('main');
    expect(screen.getByTestId('status-drafts').textContent).toContain('.oxide/oxide.toml');
    expect(screen.getByTestId('status-audit-events').textContent).toBe('3');
    expect(screen.getAllByTestId('status-proposal-count').map((c) => c.textContent)).toEqual(['proposed: 2']);
    expect(screen.getByTestId('status-not-initialized').textContent).toContain('oxide init');
  });
});
