import { describe, expect, it } from 'vitest';
import { KeysetWindow, PAGE, type PageAt, type PageSource } from './keyset.svelte';
import { addChip, removeChip, toFilter, toRfc3339 } from './filters';
import type { AuditEvent } from '../bindings/AuditEvent';

function ev(seq: number, kind = 'test.event'): AuditEvent {
  return { seq, ts: `2026-01-01T00:00:00Z`, actor: 'a', kind, subject: `s${seq}`, payload: {}, prev: null, hash: `h${seq}` };
}

/** A source over seqs `seqs` (ascending) that records every request. */
function fake(seqs: number[]): PageSource & { calls: PageAt[] } {
  const calls: PageAt[] = [];
  return {
    calls,
    async page(at: PageAt) {
      calls.push(at);
      let picked: number[];
      if (at.after !== undefined) picked = seqs.filter((s) => s > at.after!).slice(0, at.limit);
      else {
        const below = seqs.filter((s) => at.before === undefined || s < at.before);
        picked = below.slice(Math.max(0, below.length - at.limit));
      }
      return picked.reverse().map((s) => ev(s));
    },
  };
}

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe('KeysetWindow', () => {
  it('opens at the newest event with a page below the viewport, never reading by offset', async () => {
    const src = fake(range(1, 100_000));
    const win = new KeysetWindow(src, 20);
    await win.reset();
    expect(win.topSeq).toBe(100_000);
    expect(win.shown[0].seq).toBe(100_000);
    expect(win.shown).toHaveLength(21);
    expect(win.newest).toBe(100_000);
    expect(win.oldest).toBe(1);
    expect(win.fraction).toBe(0);
    expect(win.rows.length).toBeGreaterThanOrEqual(20 + PAGE);
    // Every page is keyed by a seq or an end of the history.
    for (const c of src.calls) expect(c.limit).toBeLessThanOrEqual(PAGE);
  });

  it('scrolls page by page, fetching older pages and keeping memory flat', async () => {
    const win = new KeysetWindow(fake(range(1, 10_000)), 20);
    await win.reset();
    for (let i = 0; i < 100; i++) await win.scrollBy(19);
    expect(win.topSeq).toBe(10_000 - 1900);
    expect(win.rows.length).toBeLessThanOrEqual(4 * PAGE + 20);
    // The rows stay contiguous, newest first.
    win.rows.forEach((r, i) => i > 0 && expect(win.rows[i - 1].seq - r.seq).toBe(1));
    await win.scrollBy(-1900);
    expect(win.topSeq).toBe(10_000);
  });

  it('jumps to the oldest end, to a seq and to a scrollbar position', async () => {
    const win = new KeysetWindow(fake(range(1, 1_000_000)), 20);
    await win.reset();
    await win.jumpOldest();
    expect(win.shown[win.shown.length - 1].seq).toBe(1);
    expect(win.atOldest).toBe(true);
    expect(win.fraction).toBe(1);
    await win.scrollBy(5);
    expect(win.shown[win.shown.length - 1].seq).toBe(1);
    await win.jumpToSeq(123_456);
    expect(win.topSeq).toBe(123_456);
    await win.jumpToFraction(0.5);
    expect(win.topSeq).toBe(500_001);
    expect(win.fraction).toBeCloseTo(0.5, 3);
    await win.scrollBy(-30);
    expect(win.topSeq).toBe(500_031);
  });

  it('in a filtered set shows the nearest older match for a seq that does not match', async () => {
    const win = new KeysetWindow(fake([3, 10, 50, 51, 900]), 1);
    await win.reset();
    expect(win.shown.map((e) => e.seq)).toEqual([900, 51]);
    expect(win.atOldest).toBe(true);
    await win.jumpToSeq(49);
    expect(win.topSeq).toBe(10);
    // Near the oldest end the last event stays at the bottom of the viewport.
    win.setVisible(3);
    await win.jumpToSeq(9);
    expect(win.shown.map((e) => e.seq)).toEqual([50, 10, 3]);
  });

  it('is empty for an empty history', async () => {
    const win = new KeysetWindow(fake([]), 10);
    await win.reset();
    expect(win.rows).toEqual([]);
    expect(win.topSeq).toBeNull();
    expect(win.newest).toBeNull();
    await win.jumpToFraction(0.3);
    expect(win.rows).toEqual([]);
  });
});

describe('filter chips', () => {
  it('adds kinds as alternatives, one actor, and maps to the core filter', () => {
    let chips = addChip([], { field: 'kind', value: ' workflow.validate ' });
    chips = addChip(chips, { field: 'kind', value: 'policy.decision' });
    chips = addChip(chips, { field: 'kind', value: 'policy.decision' });
    chips = addChip(chips, { field: 'actor', value: 'alice' });
    chips = addChip(chips, { field: 'actor', value: 'bob' });
    chips = addChip(chips, { field: 'since', value: '2026-11-21T04:00' });
    chips = addChip(chips, { field: 'text', value: '   ' });
    expect(chips).toHaveLength(4);
    expect(toFilter(chips)).toEqual({
      kinds: ['workflow.validate', 'policy.decision'],
      actor: 'bob',
      subject: null,
      since: '2026-11-21T04:00:00Z',
      until: null,
      search: null,
    });
    chips = removeChip(chips, { field: 'kind', value: 'workflow.validate' });
    expect(toFilter(chips).kinds).toEqual(['policy.decision']);
  });

  it('reads dates and times as UTC and leaves anything else to the core to refuse', () => {
    expect(toRfc3339('2026-11-21')).toBe('2026-11-21T00:00:00Z');
    expect(toRfc3339('2026-11-21 04:05:06')).toBe('2026-11-21T04:05:06Z');
    expect(toRfc3339('yesterday')).toBeNull();
    expect(toFilter([{ field: 'until', value: 'yesterday' }]).until).toBe('yesterday');
  });
});
