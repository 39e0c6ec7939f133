// Typed adapters over the binder room's Tauri commands (src-tauri/src/binder.rs).
import { invoke } from '@tauri-apps/api/core';
import { toErrorDto } from './ipc';
import type { Capsule } from './bindings/Capsule';
import type { CapsuleDetail } from './bindings/CapsuleDetail';
import type { CapsuleFilter } from './bindings/CapsuleFilter';
import type { QuarantineItem } from './bindings/QuarantineItem';
import type { TimelinePoint } from './bindings/TimelinePoint';
import type { CapsuleList } from './bindings/CapsuleList';

export type { Capsule, CapsuleDetail, CapsuleFilter, CapsuleList, QuarantineItem, TimelinePoint };

async function call<T>(command: string, args?: Record<string, unknown>): Promise<T> {
  try {
    return await invoke<T>(command, args);
  } catch (error) {
    throw toErrorDto(error);
  }
}

export const binderIpc = {
  capsules: (filter: CapsuleFilter | null = null) => call<CapsuleList>('binder_capsules', { filter }),
  capsule: (upsertKey: string) => call<CapsuleDetail>('binder_capsule', { upsertKey }),
  quarantine: () => call<QuarantineItem[]>('binder_quarantine'),
};
