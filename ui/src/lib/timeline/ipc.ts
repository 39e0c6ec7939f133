// Typed adapters over the Timeline's commands (src-tauri/src/timeline.rs), and the page
// source the virtual list reads through.
import { call } from '../commands';
import type { AuditEvent } from '../bindings/AuditEvent';
import type { AuditVerify } from '../bindings/AuditVerify';
import type { EventDetail } from '../bindings/EventDetail';
import type { VerifyCursor } from '../bindings/VerifyCursor';
import type { VerifyStep } from '../bindings/VerifyStep';
import type { TimelineFilter } from '../bindings/TimelineFilter';
import type { TimelineQuery } from '../bindings/TimelineQuery';
import type { PageAt, PageSource } from './keyset.svelte';

export type { AuditEvent, AuditVerify, EventDetail, VerifyCursor, VerifyStep };

export const timelineIpc = {
  page: (query: TimelineQuery) => call('timeline_page', { query }),
  count: (filter: TimelineFilter) => call('timeline_count', { filter }),
  event: (seq: number) => call('timeline_event', { seq }),
  verifyStep: (cursor: VerifyCursor | null, max: number | null = null) => call('audit_verify_step', { cursor, max }),
  /** Asks where to save, then writes the export; `null` when the user cancelled. */
  export: (filter: TimelineFilter) => call('timeline_export', { filter }),
};

/**
 * Runs the chain verification a chunk at a time, reporting `(checked, total)` after each
 * chunk; resolves with the verdict. `cancelled()` stops between chunks (resolves `null`).
 */
export async function verifyChain(
  onProgress: (checked: number, total: number) => void,
  cancelled: () => boolean = () => false,
): Promise<AuditVerify | null> {
  let cursor: VerifyCursor | null = null;
  for (;;) {
    const step: VerifyStep = await timelineIpc.verifyStep(cursor);
    onProgress(step.checked, step.total);
    if (step.verdict) return step.verdict;
    if (cancelled()) return null;
    cursor = step.cursor;
  }
}

/** The (filtered) history through the core's keyset query (`audit::timeline::query`). */
export function querySource(filter: TimelineFilter): PageSource {
  return {
    async page(at: PageAt): Promise<AuditEvent[]> {
      const q: TimelineQuery = {
        filter,
        order: 'newest_first',
        before: at.before ?? null,
        after: at.after === undefined ? null : Math.max(0, at.after),
        jump: at.time !== undefined ? { time: at.time } : null,
        limit: at.limit,
      };
      return (await timelineIpc.page(q)).events;
    },
  };
}
