// Light and dark themes: follows prefers-color-scheme until the user picks one.
// The choice is applied as <html data-theme="light|dark"> and remembered locally.

export type ThemeChoice = 'system' | 'light' | 'dark';
export type Theme = 'light' | 'dark';

export const THEME_KEY = 'oxide.theme';
const DARK_QUERY = '(prefers-color-scheme: dark)';

function readChoice(storage: Storage | undefined): ThemeChoice {
  const saved = storage?.getItem(THEME_KEY);
  return saved === 'light' || saved === 'dark' || saved === 'system' ? saved : 'system';
}

export class ThemeStore {
  choice = $state<ThemeChoice>('system');
  systemDark = $state(false);
  readonly resolved: Theme = $derived(
    this.choice === 'system' ? (this.systemDark ? 'dark' : 'light') : this.choice,
  );

  #storage: Storage | undefined;

  constructor(storage: Storage | undefined = globalThis.localStorage, media = globalThis.matchMedia) {
    this.#storage = storage;
    this.choice = readChoice(storage);
    const query = media?.(DARK_QUERY);
    if (query) {
      this.systemDark = query.matches;
      query.addEventListener?.('change', (e) => {
        this.systemDark = e.matches;
        this.apply();
      });
    }
  }

  set(choice: ThemeChoice): void {
    this.choice = choice;
    this.#storage?.setItem(THEME_KEY, choice);
    this.apply();
  }

  /** Switches to the opposite of what is shown now. */
  toggle(): void {
    this.set(this.resolved === 'dark' ? 'light' : 'dark');
  }

  apply(root: HTMLElement = document.documentElement): void {
    root.dataset.theme = this.resolved;
  }
}

export const theme = new ThemeStore();
