import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { render, screen, waitFor } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import { clearMocks, mockIPC } from '@tauri-apps/api/mocks';
import App from './App.svelte';

beforeEach(() => {
  mockIPC((cmd) => {
    switch (cmd) {
      case 'initial_workspace':
        return { workspace: '/home/me/demo-workspace', db: '/data/demo.sqlite3', audit_events: 1, proposals: {}, initialized: true };
      case 'recent_workspaces':
        return [];
      case 'ollama_status':
        return { reachable: false, host: 'http://127.0.0.1:11434', version: null, message: 'connection refused' };
      case 'audit_list':
        return [];
      case 'status':
        return { workspace: '/home/me/demo-workspace', db: '/data/demo.sqlite3', audit_events: 1, proposals: {}, initialized: true };
      case 'proposals_list':
      case 'workflow_table':
        return [];
      case 'whoami_get':
        return null;
      default:
        throw new Error(`unexpected ${cmd}`);
    }
  });
});
afterEach(() => clearMocks());

describe('App frame', () => {
  it('opens the start workspace and says when Ollama is missing', async () => {
    render(App);
    await waitFor(() => expect(screen.getByTestId('workspace-name').textContent).toBe('demo-workspace'));
    expect(screen.getByTestId('status-audit-events').textContent).toBe('1');
    await waitFor(() => expect(screen.getByTestId('ollama-banner')).toBeTruthy());
  });

  it('switches views with Alt+digit and moves focus to the view title', async () => {
    render(App);
    const user = userEvent.setup();
    await user.keyboard('{Alt>}5{/Alt}');
    expect(screen.getByTestId('view-title').textContent).toBe('Timeline');
    expect(document.activeElement).toBe(screen.getByTestId('view-title'));
    await user.keyboard('{Alt>}2{/Alt}');
    expect(screen.getByTestId('view-title').textContent).toBe('Proposals');
    // The view is its own chunk, compiled on first import under vitest: allow for that.
    expect((await screen.findByTestId('proposals-empty', {}, { timeout: 5000 })).textContent).toContain('No proposals yet');
  });

  it('moves through the navigation with the arrow keys', async () => {
    render(App);
    const user = userEvent.setup();
    screen.getByTestId('nav-inbox').focus();
    await user.keyboard('{ArrowDown}{ArrowDown}');
    expect(document.activeElement).toBe(screen.getByTestId('nav-skills'));
    await user.keyboard('{Enter}');
    expect(screen.getByTestId('nav-skills').getAttribute('aria-current')).toBe('page');
    await user.keyboard('{End}');
    expect(document.activeElement).toBe(screen.getByTestId('nav-charts'));
  });
});
