// The approver's and lead's keyboard: j / k move to the next / previous proposal of the
// Inbox, a approves (opens the signing confirmation), r rejects (opens the reason), p
// promotes (opens the promotion confirmation). Never while the person types (an input, a
// text area, a select, an editable element) and never with a modifier, so Alt+digit
// navigation and the browser's own shortcuts stay as they are.

export type ReviewAction = 'next' | 'previous' | 'approve' | 'reject' | 'promote';

const KEYS: Record<string, ReviewAction> = { j: 'next', k: 'previous', a: 'approve', r: 'reject', p: 'promote' };

interface KeyLike {
  key: string;
  altKey: boolean;
  ctrlKey: boolean;
  metaKey: boolean;
  shiftKey?: boolean;
  isComposing?: boolean;
  target: EventTarget | null;
}

/** Is `target` somewhere the person types text? */
export function isTyping(target: EventTarget | null): boolean {
  if (!target || typeof (target as Element).closest !== 'function') return false;
  const el = target as HTMLElement;
  if (el.isContentEditable) return true;
  return el.closest('input, textarea, select, [contenteditable=""], [contenteditable="true"]') !== null;
}

/** The review action a key press asks for, or `null`. */
export function reviewAction(event: KeyLike): ReviewAction | null {
  if (event.altKey || event.ctrlKey || event.metaKey || event.shiftKey || event.isComposing) return null;
  if (isTyping(event.target)) return null;
  return KEYS[event.key] ?? null;
}

/** The index `action` moves to in a list of `count` (clamped at the ends), or `null`. */
export function step(current: number, action: ReviewAction, count: number): number | null {
  if (count <= 0) return null;
  if (action === 'next') return current < 0 ? 0 : Math.min(current + 1, count - 1);
  if (action === 'previous') return current < 0 ? 0 : Math.max(current - 1, 0);
  return null;
}
