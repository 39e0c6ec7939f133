import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { INFO_TIMEOUT_MS, MAX_TOASTS, ToastStore } from './toasts.svelte';

describe('ToastStore', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('keeps an error with its code until dismissed', () => {
    const store = new ToastStore();
    const id = store.error({ code: 'AUDIT_CHAIN_BROKEN', message: 'seq 3 was edited' });
    vi.advanceTimersByTime(INFO_TIMEOUT_MS * 3);
    expect(store.items).toEqual([{ id, kind: 'error', code: 'AUDIT_CHAIN_BROKEN', message: 'seq 3 was edited' }]);
    store.dismiss(id);
    expect(store.items).toEqual([]);
  });

  it('lets information fade', () => {
    const store = new ToastStore();
    store.info('Workspace opened');
    expect(store.items).toHaveLength(1);
    vi.advanceTimersByTime(INFO_TIMEOUT_MS);
    expect(store.items).toHaveLength(0);
  });

  it('keeps only the newest few', () => {
    const store = new ToastStore();
    for (let i = 0; i < MAX_TOASTS + 2; i++) store.error({ code: 'E', message: `m${i}` });
    expect(store.items).toHaveLength(MAX_TOASTS);
    expect(store.items[0].message).toBe('m2');
  });
});
