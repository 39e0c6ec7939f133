import { describe, expect, it } from 'vitest';
import { render, screen } from '@testing-library/svelte';
import FileDiffView from './FileDiffView.svelte';
import type { FileDiff } from '$lib/bindings/FileDiff';
import { hiddenInFile, shown } from '$lib/diffText';

// A change whose find/replace reads the same on screen: LF → CRLF, a Cyrillic 'а' for the
// Latin 'a', a zero-width space and a trailing blank — as the core marks them.
const sneaky: FileDiff = {
  path: 'src/config.txt',
  old_path: null,
  change: 'modified',
  old_mode: '100644',
  new_mode: '100644',
  old_size: 40,
  new_size: 46,
  binary: false,
  hunks: [
    {
      old_start: 1,
      old_lines: 2,
      new_start: 1,
      new_lines: 2,
      lines: [
        {
          kind: 'del',
          text: 'user = admin',
          spans: [
            { text: 'user = ', changed: false, mark: null },
            { text: 'admin', changed: true, mark: null },
          ],
          flags: [],
        },
        { kind: 'del', text: 'mode = strict', spans: [], flags: ['no_newline_at_end'] },
        {
          kind: 'add',
          text: 'user = \u0430dmin',
          spans: [
            { text: 'user = ', changed: false, mark: null },
            { text: '\u0430', changed: true, mark: 'non_ascii' },
            { text: 'dmin', changed: true, mark: null },
          ],
          flags: ['non_ascii'],
        },
        {
          kind: 'add',
          text: 'mode = strict\u200b \r',
          spans: [
            { text: 'mode = strict', changed: false, mark: null },
            { text: '\u200b', changed: true, mark: 'invisible' },
            { text: ' ', changed: true, mark: 'trailing_whitespace' },
            { text: '\r', changed: true, mark: 'carriage_return' },
          ],
          flags: ['carriage_return', 'trailing_whitespace', 'non_ascii', 'invisible'],
        },
      ],
    },
  ],
};

describe('FileDiffView', () => {
  it('makes hidden characters visible and marks changed words', () => {
    render(FileDiffView, { file: sneaky });
    const adds = screen.getAllByTestId('diff-line-add').map((e) => e.textContent);
    expect(adds).toEqual(['+user = \u0430dmin', '+mode = strict⟨U+200B⟩ ␍']);
    expect(screen.getAllByTestId('diff-word').map((e) => e.getAttribute('data-mark'))).toEqual([
      null,
      'non_ascii',
      null,
      'invisible',
      'trailing_whitespace',
      'carriage_return',
    ]);
    expect(screen.getByTestId('diff-file-hidden').textContent).toBe(
      'hides: carriage returns, trailing whitespace, non-ASCII characters, invisible characters',
    );
    expect(screen.getByTestId('diff-no-newline').textContent).toBe('\\ No newline at end of file');
    // The look-alike says which code point it is.
    const cyr = screen.getAllByTestId('diff-word')[1];
    expect(cyr.getAttribute('title')).toBe('U+0430');
  });

  it('shows a binary file as binary, never as text', () => {
    render(FileDiffView, {
      file: { ...sneaky, path: 'logo.png', binary: true, hunks: [], change: 'added', old_mode: null, old_size: 0, new_size: 1234 },
    });
    expect(screen.getByTestId('diff-binary').textContent).toContain('0 → 1234 bytes');
    expect(screen.queryByTestId('diff-line-add')).toBeNull();
  });

  it('shows a rename with both paths', () => {
    render(FileDiffView, {
      file: { ...sneaky, change: 'renamed', old_path: 'docs/old.md', path: 'docs/new.md', hunks: [] },
    });
    expect(screen.getByTestId('diff-old-path').textContent).toBe('docs/old.md');
    expect(screen.getByTestId('diff-file').getAttribute('data-change')).toBe('renamed');
  });
});

describe('diffText', () => {
  it('writes each hidden character visibly', () => {
    expect(shown({ text: '\r\r', changed: false, mark: 'carriage_return' })).toBe('␍␍');
    expect(shown({ text: '\u202e\u{e0041}', changed: true, mark: 'invisible' })).toBe('⟨U+202E⟩⟨U+E0041⟩');
    expect(shown({ text: 'plain', changed: true, mark: null })).toBe('plain');
    expect(
      hiddenInFile([
        { kind: 'context', text: 'x\r', spans: [], flags: ['carriage_return'] },
        { kind: 'add', text: 'y', spans: [], flags: ['no_newline_at_end'] },
      ]),
    ).toEqual([]);
  });
});
