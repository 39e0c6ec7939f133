// Typed adapters over the binder room's Tauri commands (src-tauri/src/binder.rs), through the
// one typed `call` (commands.ts).
import { call } from './commands';
import type { Capsule } from './bindings/Capsule';
import type { CapsuleDetail } from './bindings/CapsuleDetail';
import type { CapsuleFilter } from './bindings/CapsuleFilter';
import type { QuarantineItem } from './bindings/QuarantineItem';
import type { TimelinePoint } from './bindings/TimelinePoint';
import type { CapsuleList } from './bindings/CapsuleList';
import type { RolloutMode } from './bindings/RolloutMode';

export type { Capsule, CapsuleDetail, CapsuleFilter, CapsuleList, QuarantineItem, RolloutMode, TimelinePoint };

export const binderIpc = {
  capsules: (filter: CapsuleFilter | null = null) => call('binder_capsules', { filter }),
  capsule: (upsertKey: string) => call('binder_capsule', { upsertKey }),
  quarantine: () => call('binder_quarantine'),
};
