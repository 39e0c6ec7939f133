// Which grammar a governance file uses (kept apart from highlight.ts so that shiki loads only
// when an editor opens).
export type CodeLang = 'rego' | 'toml';

/** The language of a governance file, by its name. */
export function langOf(path: string): CodeLang {
  return path.endsWith('.rego') ? 'rego' : 'toml';
}
