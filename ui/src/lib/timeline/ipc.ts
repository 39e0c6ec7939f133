// Typed adapters over the Timeline's commands (src-tauri/src/timeline.rs), and the page
// source the virtual list reads through.
import { call } from '../commands';
import type { AuditEvent } from '../bindings/AuditEvent';
import type { AuditVerify } from '../bindings/AuditVerify';
import type { EventDetail } from '../bindings/EventDetail';
import type { DeviceVerify } from '../bindings/DeviceVerify';
import type { KnownDevice } from '../bindings/KnownDevice';
import type { VerifyCursor } from '../bindings/VerifyCursor';
import type { VerifyStep } from '../bindings/VerifyStep';
import type { TimelineFilter } from '../bindings/TimelineFilter';
import type { TimelineQuery } from '../bindings/TimelineQuery';
import type { PageAt, PageSource } from './keyset.svelte';

export type { AuditEvent, AuditVerify, DeviceVerify, EventDetail, KnownDevice, VerifyCursor, VerifyStep };

/**
 * Which chain the Timeline reads: `null` = this database's own, else the keyid of a device
 * received through sync.
 */
export type DeviceKey = string | null;

export const timelineIpc = {
  page: (query: TimelineQuery, device: DeviceKey = null) => call('timeline_page', { query, device }),
  count: (filter: TimelineFilter, device: DeviceKey = null) => call('timeline_count', { filter, device }),
  event: (seq: number, device: DeviceKey = null) => call('timeline_event', { seq, device }),
  /** This device first, then every device received through sync. */
  devices: () => call('timeline_devices'),
  /** A received device's chain verified as `oxide audit verify --all-devices` does. */
  verifyDevice: (device: string) => call('timeline_verify_device', { device }),
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

/**
 * A received device's chain verified in one call, as the badge's verdict: the first bad seq
 * and every problem (endorsement, chain, checkpoint) the core found.
 */
export async function verifyDeviceChain(device: string): Promise<AuditVerify> {
  const v: DeviceVerify = await timelineIpc.verifyDevice(device);
  return {
    ok: v.ok,
    events: v.events,
    first_bad_seq: v.first_bad_seq,
    problem: v.problems.length > 0 ? v.problems.join('; ') : null,
  };
}

/** A device's short name: the first 12 characters of its keyid (as `oxide audit list` shows). */
export function shortKey(keyid: string): string {
  return keyid.slice(0, 12);
}

/**
 * The (filtered) history through the core's keyset query (`audit::timeline::query`, or
 * `audit::devices::device_page` for a received device).
 */
export function querySource(filter: TimelineFilter, device: DeviceKey = null): PageSource {
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
      return (await timelineIpc.page(q, device)).events;
    },
  };
}
