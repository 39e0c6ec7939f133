// How a review-diff span is written on screen: characters a plain rendering hides are made
// visible (a carriage return as ␍, an invisible or control character as ⟨U+XXXX⟩); the core
// (gitops::review_diff) decides which characters those are and marks their spans.
import type { DiffLine } from './bindings/DiffLine';
import type { LineFlag } from './bindings/LineFlag';
import type { Span } from './bindings/Span';

function codePoints(text: string): string[] {
  return Array.from(text);
}

function hex(c: string): string {
  return (c.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0');
}

/** The text shown for one span. */
export function shown(span: Span): string {
  switch (span.mark) {
    case 'carriage_return':
      return '␍'.repeat(codePoints(span.text).length);
    case 'invisible':
      return codePoints(span.text)
        .map((c) => `⟨U+${hex(c)}⟩`)
        .join('');
    default:
      return span.text;
  }
}

/** A tooltip naming what a marked span holds. */
export function describe(span: Span): string | undefined {
  switch (span.mark) {
    case 'carriage_return':
      return 'carriage return (\\r)';
    case 'trailing_whitespace':
      return 'trailing whitespace';
    case 'non_ascii':
    case 'invisible':
      return codePoints(span.text)
        .map((c) => `U+${hex(c)}`)
        .join(' ');
    default:
      return undefined;
  }
}

const LABELS: Record<LineFlag, string> = {
  carriage_return: 'carriage returns',
  trailing_whitespace: 'trailing whitespace',
  no_newline_at_end: 'no newline at end',
  non_ascii: 'non-ASCII characters',
  invisible: 'invisible characters',
};

/** What a file's changed lines hide, once each, in a fixed order (for a warning). */
export function hiddenInFile(lines: DiffLine[]): string[] {
  const seen = new Set<LineFlag>();
  for (const l of lines) if (l.kind !== 'context') for (const f of l.flags) seen.add(f);
  return (Object.keys(LABELS) as LineFlag[])
    .filter((f) => f !== 'no_newline_at_end' && seen.has(f))
    .map((f) => LABELS[f]);
}
