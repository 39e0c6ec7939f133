import { describe, expect, it } from 'vitest';
import { THEME_KEY, ThemeStore } from './theme.svelte';

function memoryStorage(initial: Record<string, string> = {}): Storage {
  const data = new Map(Object.entries(initial));
  return {
    get length() {
      return data.size;
    },
    clear: () => data.clear(),
    getItem: (k) => data.get(k) ?? null,
    key: (i) => [...data.keys()][i] ?? null,
    removeItem: (k) => void data.delete(k),
    setItem: (k, v) => void data.set(k, v),
  };
}

function media(dark: boolean) {
  return ((query: string) => ({
    matches: dark && query.includes('dark'),
    addEventListener: () => {},
  })) as unknown as typeof window.matchMedia;
}

describe('ThemeStore', () => {
  it('follows the system until the user chooses', () => {
    expect(new ThemeStore(memoryStorage(), media(true)).resolved).toBe('dark');
    expect(new ThemeStore(memoryStorage(), media(false)).resolved).toBe('light');
  });

  it('remembers a choice and applies it to the root element', () => {
    const storage = memoryStorage();
    const store = new ThemeStore(storage, media(false));
    store.toggle();
    expect(store.resolved).toBe('dark');
    expect(storage.getItem(THEME_KEY)).toBe('dark');
    const root = document.createElement('html');
    store.apply(root);
    expect(root.dataset.theme).toBe('dark');
    expect(new ThemeStore(storage, media(false)).resolved).toBe('dark');
  });

  it('ignores a stored value it does not know', () => {
    const store = new ThemeStore(memoryStorage({ [THEME_KEY]: 'purple' }), media(false));
    expect(store.choice).toBe('system');
  });
});
