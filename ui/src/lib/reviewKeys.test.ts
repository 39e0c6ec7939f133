import { describe, expect, it } from 'vitest';
import { isTyping, reviewAction, step } from './reviewKeys';

function press(key: string, target: EventTarget | null = document.body, mods: Partial<KeyboardEventInit> = {}) {
  return reviewAction({ key, altKey: false, ctrlKey: false, metaKey: false, shiftKey: false, ...mods, target });
}

describe('reviewAction', () => {
  it('maps j, k, a, r and p', () => {
    expect(['j', 'k', 'a', 'r', 'p', 'x'].map((k) => press(k))).toEqual(['next', 'previous', 'approve', 'reject', 'promote', null]);
  });

  it('does nothing while the person types, or with a modifier', () => {
    const input = document.createElement('input');
    const area = document.createElement('textarea');
    const editable = document.createElement('div');
    editable.setAttribute('contenteditable', 'true');
    const inner = document.createElement('span');
    editable.appendChild(inner);
    document.body.append(input, area, editable);
    for (const t of [input, area, inner]) {
      expect(isTyping(t)).toBe(true);
      expect(press('a', t)).toBeNull();
    }
    expect(press('a', document.body, { ctrlKey: true })).toBeNull();
    expect(press('j', document.body, { altKey: true })).toBeNull();
    expect(press('R', document.body, { shiftKey: true })).toBeNull();
    expect(isTyping(document.createElement('button'))).toBe(false);
  });
});

describe('step', () => {
  it('moves through the list and stops at its ends', () => {
    expect(step(-1, 'next', 3)).toBe(0);
    expect(step(0, 'next', 3)).toBe(1);
    expect(step(2, 'next', 3)).toBe(2);
    expect(step(0, 'previous', 3)).toBe(0);
    expect(step(2, 'previous', 3)).toBe(1);
    expect(step(0, 'approve', 3)).toBeNull();
    expect(step(0, 'promote', 3)).toBeNull();
    expect(step(0, 'next', 0)).toBeNull();
  });
});
