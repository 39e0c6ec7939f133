import { describe, expect, it } from 'vitest';
import { VIEWS, isViewId, nextNavIndex, viewForShortcut } from './nav';

const key = (over: Partial<Parameters<typeof viewForShortcut>[0]>) => ({
  key: '',
  altKey: false,
  ctrlKey: false,
  metaKey: false,
  shiftKey: false,
  ...over,
});

describe('views', () => {
  it('lists the eight views of the frame in order', () => {
    expect(VIEWS.map((v) => v.label)).toEqual([
      'Inbox',
      'Proposals',
      'Skills',
      'Capsules',
      'Timeline',
      'Policy',
      'Settings',
      'Charts',
    ]);
  });

  it('says what each view will show', () => {
    for (const view of VIEWS) expect(view.purpose.length).toBeGreaterThan(20);
  });

  it('recognises view ids', () => {
    expect(isViewId('timeline')).toBe(true);
    expect(isViewId('nope')).toBe(false);
  });
});

describe('viewForShortcut', () => {
  it('maps Alt+1..8 to the views', () => {
    expect(viewForShortcut(key({ key: '1', altKey: true }))).toBe('inbox');
    expect(viewForShortcut(key({ key: '5', altKey: true }))).toBe('timeline');
    expect(viewForShortcut(key({ key: '7', altKey: true }))).toBe('settings');
    expect(viewForShortcut(key({ key: '8', altKey: true }))).toBe('charts');
  });

  it('reads the physical digit when Alt changes the character', () => {
    expect(viewForShortcut(key({ key: '¡', code: 'Digit1', altKey: true }))).toBe('inbox');
  });

  it('ignores other digits, plain digits and other modifiers', () => {
    expect(viewForShortcut(key({ key: '9', altKey: true }))).toBeNull();
    expect(viewForShortcut(key({ key: '0', altKey: true }))).toBeNull();
    expect(viewForShortcut(key({ key: '3' }))).toBeNull();
    expect(viewForShortcut(key({ key: '3', altKey: true, ctrlKey: true }))).toBeNull();
    expect(viewForShortcut(key({ key: 'a', altKey: true }))).toBeNull();
  });
});

describe('nextNavIndex', () => {
  it('moves with the arrows and wraps', () => {
    expect(nextNavIndex(0, 'ArrowDown', 7)).toBe(1);
    expect(nextNavIndex(6, 'ArrowDown', 7)).toBe(0);
    expect(nextNavIndex(0, 'ArrowUp', 7)).toBe(6);
  });

  it('jumps with Home and End', () => {
    expect(nextNavIndex(3, 'Home', 7)).toBe(0);
    expect(nextNavIndex(3, 'End', 7)).toBe(6);
  });

  it('leaves other keys alone', () => {
    expect(nextNavIndex(3, 'Enter', 7)).toBeNull();
    expect(nextNavIndex(0, 'ArrowDown', 0)).toBeNull();
  });
});
