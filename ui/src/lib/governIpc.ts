// Typed adapters over the governance editor's Tauri commands (src-tauri/src/govern.rs), through
// the one typed `call` (commands.ts).
import { call } from './commands';
import type { GovernEdit } from './bindings/GovernEdit';
import type { GovernFile } from './bindings/GovernFile';
import type { GovernFiles } from './bindings/GovernFiles';
import type { GovernKind } from './bindings/GovernKind';
import type { GovernPreview } from './bindings/GovernPreview';
import type { GovernProblem } from './bindings/GovernProblem';
import type { GovernSubmitted } from './bindings/GovernSubmitted';
import type { FileCheck } from './bindings/FileCheck';

export type {
  GovernEdit,
  GovernFile,
  GovernFiles,
  GovernKind,
  GovernPreview,
  GovernProblem,
  GovernSubmitted,
  FileCheck,
};

export const governIpc = {
  files: () => call('govern_files'),
  preview: (edits: GovernEdit[]) => call('govern_preview', { edits }),
  submit: (edits: GovernEdit[], rationale: string) => call('govern_submit', { edits, rationale }),
};

const NUMBERS = ['no', 'a', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine'];

/**
 * The role slots still open, in words: `['lead', 'lead', 'maintainer']` →
 * "two leads and a maintainer" (roles in first-seen order).
 */
export function waitingPhrase(roles: readonly string[]): string {
  const counts = new Map<string, number>();
  for (const r of roles) counts.set(r, (counts.get(r) ?? 0) + 1);
  const parts = [...counts].map(([role, n]) => {
    const article = /^[aeiou]/.test(role) ? 'an' : 'a';
    const word = n === 1 ? article : n < NUMBERS.length ? NUMBERS[n] : String(n);
    return `${word} ${role}${n === 1 ? '' : 's'}`;
  });
  if (parts.length === 0) return 'nobody';
  if (parts.length === 1) return parts[0];
  return `${parts.slice(0, -1).join(', ')} and ${parts[parts.length - 1]}`;
}

/** The edits to send: every file whose text differs from the committed one. */
export function changedEdits(files: readonly GovernFile[], texts: Record<string, string>): GovernEdit[] {
  return files
    .filter((f) => texts[f.path] !== undefined && texts[f.path] !== (f.text ?? ''))
    .map((f) => ({ path: f.path, text: texts[f.path] }));
}
