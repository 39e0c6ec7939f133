import { describe, expect, it } from 'vitest';
import { render, screen } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import { createRawSnippet } from 'svelte';
import Chip from './Chip.svelte';
import Panel from './Panel.svelte';
import Table from './Table.svelte';
import Toasts from './Toasts.svelte';
import EmptyState from './EmptyState.svelte';
import { ToastStore } from '../stores/toasts.svelte';

const text = (s: string) => createRawSnippet(() => ({ render: () => `<span>${s}</span>` }));

describe('Toasts', () => {
  it('shows an error with its code and message, as an alert, and dismisses it', async () => {
    const store = new ToastStore();
    store.error({ code: 'STORE_NOT_OXIDE_DB', message: 'notes.txt is not an OXIDE database' });
    render(Toasts, { store });
    const toast = screen.getByRole('alert');
    expect(toast.dataset.kind).toBe('error');
    expect(screen.getByTestId('toast-code').textContent).toBe('STORE_NOT_OXIDE_DB');
    expect(screen.getByTestId('toast-message').textContent).toBe('notes.txt is not an OXIDE database');
    await userEvent.click(screen.getByRole('button', { name: 'Dismiss' }));
    expect(screen.queryByRole('alert')).toBeNull();
    expect(store.items).toHaveLength(0);
  });
});

describe('Table', () => {
  const columns = [
    { key: 'seq', label: 'Seq', align: 'end' as const },
    { key: 'kind', label: 'Kind' },
  ];

  it('renders a header and one row per item, keyed', () => {
    render(Table, {
      columns,
      rows: [
        { seq: 1, kind: 'workspace.init' },
        { seq: 2, kind: 'skill.added' },
      ],
      rowKey: (r) => (r as { seq: number }).seq,
      testid: 't',
    });
    expect(screen.getAllByRole('columnheader').map((h) => h.textContent)).toEqual(['Seq', 'Kind']);
    const rows = screen.getAllByRole('row').slice(1);
    expect(rows.map((r) => r.dataset.key)).toEqual(['1', '2']);
    expect(rows[1].textContent).toContain('skill.added');
  });

  it('says so when empty', () => {
    render(Table, { columns, rows: [], rowKey: () => 0, empty: 'No audit events yet.' });
    expect(screen.getByText('No audit events yet.')).toBeTruthy();
  });
});

describe('Chip, Panel, EmptyState', () => {
  it('chip carries its tone', () => {
    render(Chip, { tone: 'bad', testid: 'c', children: text('broken') });
    const chip = screen.getByTestId('c');
    expect(chip.dataset.tone).toBe('bad');
    expect(chip.textContent).toBe('broken');
  });

  it('panel is a labelled region with its title', () => {
    render(Panel, { title: 'Workspace status', testid: 'p', children: text('body') });
    expect(screen.getByRole('region', { name: 'Workspace status' }).dataset.testid).toBe('p');
  });

  it('empty state says what will appear', () => {
    render(EmptyState, { title: 'Nothing here yet', text: 'Skills will appear here.', testid: 'e' });
    expect(screen.getByTestId('e').textContent).toContain('Skills will appear here.');
  });
});
