import { describe, expect, it } from 'vitest';
import { render, screen, waitFor } from '@testing-library/svelte';
import FileDiffView from './components/FileDiffView.svelte';
import type { FileDiff } from './bindings/FileDiff';
import { colorize, languageOf, LANGS, tokenizeHunk, tokenizeLines } from './highlight';

describe('languageOf', () => {
  it('knows the fixed language set by extension and by name, and nothing else', () => {
    expect(languageOf('src/main.rs')).toBe('rust');
    expect(languageOf('ui/src/App.TS')).toBe('typescript');
    expect(languageOf('.oxide/policy/oxide.rego')).toBe('rego');
    expect(languageOf('.github/workflows/ci.yml')).toBe('yaml');
    expect(languageOf('Cargo.lock')).toBe('toml');
    expect(languageOf('scripts/test.sh')).toBe('shellscript');
    expect(languageOf('Makefile')).toBe(null);
    expect(languageOf('logo.png')).toBe(null);
    expect(languageOf('.env')).toBe(null);
    expect(LANGS).toContain('python');
  });
});

describe('tokenizeLines', () => {
  it('colours Rust tokens and keeps every character of every line', async () => {
    const lines = ['fn main() {', '    let s = "a /* b";', '}'];
    const toks = await tokenizeLines(lines, 'rust');
    expect(toks).toHaveLength(3);
    toks.forEach((t, i) => expect(t!.map((x) => x.text).join('')).toBe(lines[i]));
    const fn = toks[0]!.find((t) => t.text === 'fn')!;
    const str = toks[1]!.find((t) => t.text.includes('a /* b'))!;
    expect(fn.light).toMatch(/^#[0-9a-f]{6}/i);
    expect(fn.dark).toMatch(/^#[0-9a-f]{6}/i);
    // A keyword and a string are different colours; the string is not read as a comment.
    expect(str.light).not.toBe(fn.light);
    expect(toks[2]!.map((t) => t.text).join('')).toBe('}');
  });

  it('keeps a carriage return in the text it gives back', async () => {
    const toks = await tokenizeLines(['retries = 5\r'], 'toml');
    expect(toks[0]!.map((t) => t.text).join('')).toBe('retries = 5\r');
  });

  it('colours the Rego policy language, which shiki does not bundle', async () => {
    const toks = await tokenizeLines(['package oxide # the rules', 'allow := true'], 'rego');
    const kw = toks[0]!.find((t) => t.text === 'package')!;
    const comment = toks[0]!.find((t) => t.text.includes('# the rules'))!;
    expect(kw.light).toBeTruthy();
    expect(comment.light).toBeTruthy();
    expect(comment.light).not.toBe(kw.light);
  });
});

describe('colorize', () => {
  const toks = [
    { text: 'let', light: '#d73a49', dark: '#f97583' },
    { text: ' x = ', light: '#24292e', dark: '#e1e4e8' },
    { text: '42', light: '#005cc5', dark: '#79b8ff' },
  ];

  it('cuts the tokens at a span’s ends', () => {
    expect(colorize('t x', 2, toks)).toEqual([
      { text: 't', light: '#d73a49', dark: '#f97583' },
      { text: ' x', light: '#24292e', dark: '#e1e4e8' },
    ]);
    expect(colorize('42', 8, toks)).toEqual([{ text: '42', light: '#005cc5', dark: '#79b8ff' }]);
  });

  it('leaves text uncoloured when the tokens do not match it', () => {
    expect(colorize('zzz', 0, toks)).toEqual([{ text: 'zzz', light: null, dark: null }]);
    expect(colorize('let', 0, null)).toEqual([{ text: 'let', light: null, dark: null }]);
  });
});

describe('FileDiffView with syntax colours', () => {
  const file: FileDiff = {
    path: 'src/lib.rs',
    old_path: null,
    change: 'modified',
    old_mode: '100644',
    new_mode: '100644',
    old_size: 20,
    new_size: 20,
    binary: false,
    hunks: [
      {
        old_start: 1,
        old_lines: 1,
        new_start: 1,
        new_lines: 1,
        lines: [
          {
            kind: 'del',
            text: 'const N: u32 = 3;',
            spans: [
              { text: 'const N: u32 = ', changed: false, mark: null },
              { text: '3', changed: true, mark: null },
              { text: ';', changed: false, mark: null },
            ],
            flags: [],
          },
          {
            kind: 'add',
            text: 'const N: u32 = 5;\u200b',
            spans: [
              { text: 'const N: u32 = ', changed: false, mark: null },
              { text: '5', changed: true, mark: null },
              { text: ';', changed: false, mark: null },
              { text: '\u200b', changed: true, mark: 'invisible' },
            ],
            flags: ['invisible'],
          },
        ],
      },
    ],
  };

  it('colours the code and keeps the changed words and the hidden characters', async () => {
    render(FileDiffView, { file });
    const add = screen.getByTestId('diff-line-add');
    expect(add.getAttribute('data-lang')).toBe('rust');
    await waitFor(() => expect(add.querySelector('.tok[style*="--tl"]')).not.toBeNull());
    // Same text as without colours: the invisible character is still spelled out.
    expect(add.textContent).toBe('+const N: u32 = 5;⟨U+200B⟩');
    const words = screen.getAllByTestId('diff-word');
    expect(words.map((w) => w.textContent)).toEqual(['3', '5', '⟨U+200B⟩']);
    expect(words[2].getAttribute('data-mark')).toBe('invisible');
    // The keyword has a colour of its own in both themes.
    const kw = [...add.querySelectorAll<HTMLElement>('.tok')].find((e) => e.textContent === 'const')!;
    expect(kw.style.getPropertyValue('--tl')).toMatch(/^#/);
    expect(kw.style.getPropertyValue('--td')).toMatch(/^#/);
  });

  it('tokenizes each side of a hunk on its own', async () => {
    const toks = await tokenizeHunk(file.hunks[0], 'rust');
    expect(toks[0]!.map((t) => t.text).join('')).toBe('const N: u32 = 3;');
    expect(toks[1]!.map((t) => t.text).join('')).toBe('const N: u32 = 5;\u200b');
  });
});
