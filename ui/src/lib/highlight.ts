// Syntax colours for the review diff, from shiki (TextMate grammars, the JavaScript regex
// engine: no WebAssembly, so the strict CSP holds). The language set is fixed and each
// grammar is loaded the first time a file of its language is shown, so the app ships only
// what it uses. Colours never change what is shown: the text, the changed words and the
// hidden-character marks come from the core's review diff; a line whose tokens do not cover
// its text exactly is shown uncoloured.
import type { HighlighterCore, LanguageRegistration } from 'shiki/core';
import type { DiffLine } from './bindings/DiffLine';
import type { Hunk } from './bindings/Hunk';
import { rego } from './regoGrammar';

type Grammar = () => Promise<{ default: LanguageRegistration[] }>;

/** The fixed language set: shiki's grammar module for each (lazy chunks). */
const GRAMMARS = {
  rust: () => import('shiki/langs/rust.mjs'),
  typescript: () => import('shiki/langs/typescript.mjs'),
  tsx: () => import('shiki/langs/tsx.mjs'),
  javascript: () => import('shiki/langs/javascript.mjs'),
  json: () => import('shiki/langs/json.mjs'),
  toml: () => import('shiki/langs/toml.mjs'),
  yaml: () => import('shiki/langs/yaml.mjs'),
  markdown: () => import('shiki/langs/markdown.mjs'),
  python: () => import('shiki/langs/python.mjs'),
  shellscript: () => import('shiki/langs/shellscript.mjs'),
  rego: () => Promise.resolve({ default: [rego] }),
} satisfies Record<string, Grammar>;

export type Lang = keyof typeof GRAMMARS;

export const LANGS = Object.keys(GRAMMARS) as Lang[];

const BY_EXTENSION: Record<string, Lang> = {
  rs: 'rust',
  ts: 'typescript',
  mts: 'typescript',
  cts: 'typescript',
  tsx: 'tsx',
  js: 'javascript',
  mjs: 'javascript',
  cjs: 'javascript',
  jsx: 'tsx',
  json: 'json',
  toml: 'toml',
  yaml: 'yaml',
  yml: 'yaml',
  md: 'markdown',
  markdown: 'markdown',
  py: 'python',
  sh: 'shellscript',
  bash: 'shellscript',
  zsh: 'shellscript',
  rego: 'rego',
};

const BY_NAME: Record<string, Lang> = {
  'cargo.lock': 'toml',
  'package-lock.json': 'json',
  '.bashrc': 'shellscript',
  '.profile': 'shellscript',
};

/** The language of a repository path, or `null` (shown uncoloured). */
export function languageOf(path: string): Lang | null {
  const name = (path.split('/').pop() ?? '').toLowerCase();
  if (BY_NAME[name]) return BY_NAME[name];
  const dot = name.lastIndexOf('.');
  if (dot <= 0) return null;
  return BY_EXTENSION[name.slice(dot + 1)] ?? null;
}

/** One coloured piece of a line: its colour in the light and the dark theme. */
export interface Tok {
  text: string;
  light: string | null;
  dark: string | null;
}

const THEMES = { light: 'github-light', dark: 'github-dark' } as const;

let core: Promise<HighlighterCore> | null = null;
const loading = new Map<Lang, Promise<void>>();

async function highlighter(lang: Lang): Promise<HighlighterCore> {
  if (!core) {
    core = (async () => {
      const [{ createHighlighterCore }, { createJavaScriptRegexEngine }, light, dark] = await Promise.all([
        import('shiki/core'),
        import('shiki/engine/javascript'),
        import('shiki/themes/github-light.mjs'),
        import('shiki/themes/github-dark.mjs'),
      ]);
      return createHighlighterCore({
        themes: [light.default, dark.default],
        langs: [],
        engine: createJavaScriptRegexEngine({ forgiving: true }),
      });
    })();
  }
  const hl = await core;
  let loaded = loading.get(lang);
  if (!loaded) {
    loaded = GRAMMARS[lang]().then((m) => hl.loadLanguage(...m.default));
    loading.set(lang, loaded);
  }
  await loaded;
  return hl;
}

/** Past this many lines per side of a hunk, or this many characters on a line, no colours. */
export const MAX_LINES = 4000;
export const MAX_LINE_CHARS = 2000;

/**
 * Tokens for each line of `lines` (one side of a hunk, in order), tokenized together so a
 * string or comment spanning lines is coloured as it is. `null` for a line whose tokens do
 * not add up to its text.
 */
export async function tokenizeLines(lines: string[], lang: Lang): Promise<(Tok[] | null)[]> {
  if (lines.length === 0) return [];
  if (lines.length > MAX_LINES) return lines.map(() => null);
  const hl = await highlighter(lang);
  // A carriage return would split a line in two for the tokenizer: it stands in as a blank
  // of the same length (the diff shows it as ␍ from the core's mark anyway).
  const code = lines.map((l) => l.replace(/\r/g, ' ')).join('\n');
  const result = hl.codeToTokensWithThemes(code, {
    lang,
    themes: THEMES,
    tokenizeMaxLineLength: MAX_LINE_CHARS,
  });
  if (result.length !== lines.length) return lines.map(() => null);
  let lineStart = 0;
  return result.map((row, i) => {
    const line = lines[i];
    // Offsets are into `code`; the text is taken from the line itself (its real characters).
    const toks: Tok[] = row.map((t) => ({
      text: line.slice(t.offset - lineStart, t.offset - lineStart + t.content.length),
      light: t.variants.light?.color ?? null,
      dark: t.variants.dark?.color ?? null,
    }));
    lineStart += line.length + 1;
    return toks.map((t) => t.text).join('') === line ? toks : null;
  });
}

/** Tokens of every line of a hunk: both sides tokenized on their own, `null` where uncoloured. */
export async function tokenizeHunk(hunk: Hunk, lang: Lang): Promise<(Tok[] | null)[]> {
  const out: (Tok[] | null)[] = hunk.lines.map(() => null);
  for (const side of ['old', 'new'] as const) {
    const idx: number[] = [];
    hunk.lines.forEach((l: DiffLine, i) => {
      if (l.kind === 'context' || l.kind === (side === 'old' ? 'del' : 'add')) idx.push(i);
    });
    const toks = await tokenizeLines(
      idx.map((i) => hunk.lines[i].text),
      lang,
    );
    // Context lines take the new side's colours (both sides agree unless a string opened above).
    idx.forEach((i, k) => {
      if (side === 'new' || hunk.lines[i].kind === 'del') out[i] = toks[k];
    });
  }
  return out;
}

/**
 * The coloured pieces of `text`, which starts at character `start` of a line tokenized as
 * `toks`: the tokens cut at the piece's ends. Uncoloured (one piece) without tokens.
 */
export function colorize(text: string, start: number, toks: Tok[] | null): Tok[] {
  if (!toks || text.length === 0) return [{ text, light: null, dark: null }];
  const end = start + text.length;
  const out: Tok[] = [];
  let pos = 0;
  for (const t of toks) {
    const tEnd = pos + t.text.length;
    const from = Math.max(pos, start);
    const to = Math.min(tEnd, end);
    if (from < to) out.push({ text: t.text.slice(from - pos, to - pos), light: t.light, dark: t.dark });
    pos = tEnd;
    if (pos >= end) break;
  }
  return out.map((t) => t.text).join('') === text ? out : [{ text, light: null, dark: null }];
}
