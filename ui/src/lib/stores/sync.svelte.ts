// This clone's sync status (the header's sync bar): reloaded when the workspace changes, after
// a sync, and after a promotion or rollback moved the target branch here (ahead/behind).
import { rolloutIpc, type SyncStatus } from '../rolloutIpc';
import type { ErrorDto } from '../bindings/ErrorDto';

export class SyncStore {
  status = $state<SyncStatus | null>(null);
  error = $state<ErrorDto | null>(null);

  async load(): Promise<void> {
    try {
      this.status = await rolloutIpc.syncStatus();
      this.error = null;
    } catch (e) {
      this.status = null;
      this.error = e as ErrorDto;
    }
  }
}

export const syncState = new SyncStore();
