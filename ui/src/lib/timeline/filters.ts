// The Timeline's filters as chips: each chip is one condition; kind chips are alternatives
// (kind A or kind B), the other fields take one value each, and different fields all hold.
import type { TimelineFilter } from '../bindings/TimelineFilter';

export type FilterField = 'kind' | 'actor' | 'subject' | 'since' | 'until' | 'text';

export interface FilterChip {
  field: FilterField;
  value: string;
}

export const FIELD_LABEL: Record<FilterField, string> = {
  kind: 'Kind',
  actor: 'Actor',
  subject: 'Subject',
  since: 'Since',
  until: 'Until',
  text: 'Text',
};

/** Fields that hold one value: a new chip replaces the old one. */
const SINGLE: readonly FilterField[] = ['actor', 'subject', 'since', 'until', 'text'];

/** Adds `chip` (trimmed; empty values and duplicates are ignored). */
export function addChip(chips: readonly FilterChip[], chip: FilterChip): FilterChip[] {
  const value = chip.value.trim();
  if (value === '') return [...chips];
  if (chips.some((c) => c.field === chip.field && c.value === value)) return [...chips];
  const kept = SINGLE.includes(chip.field) ? chips.filter((c) => c.field !== chip.field) : chips;
  return [...kept, { field: chip.field, value }];
}

export function removeChip(chips: readonly FilterChip[], chip: FilterChip): FilterChip[] {
  return chips.filter((c) => !(c.field === chip.field && c.value === chip.value));
}

/** The values of one field. */
export function valuesOf(chips: readonly FilterChip[], field: FilterField): string[] {
  return chips.filter((c) => c.field === field).map((c) => c.value);
}

/** `2026-11-21T04:00` (a datetime-local value, read as UTC) -> RFC 3339; null if unreadable. */
export function toRfc3339(local: string): string | null {
  const m = /^(\d{4}-\d{2}-\d{2})(?:[T ](\d{2}:\d{2}(?::\d{2})?))?$/.exec(local.trim());
  if (!m) return null;
  const time = m[2] ?? '00:00:00';
  return `${m[1]}T${time.length === 5 ? `${time}:00` : time}Z`;
}

/** A since/until chip's value as the core reads it: a date, or a local-looking time in UTC. */
function timeOf(value: string): string {
  return toRfc3339(value) ?? value;
}

/** The chips as the core's filter (`audit::timeline::TimelineFilter`). */
export function toFilter(chips: readonly FilterChip[]): TimelineFilter {
  const one = (field: FilterField) => valuesOf(chips, field)[0] ?? null;
  const since = one('since');
  const until = one('until');
  return {
    kinds: valuesOf(chips, 'kind'),
    actor: one('actor'),
    subject: one('subject'),
    since: since === null ? null : timeOf(since),
    until: until === null ? null : timeOf(until),
    search: one('text'),
  };
}
