// Who signs on this device: read from the app's config folder (whoami_get), changed in
// Settings (whoami_set). The core decides what a valid person id is; a refusal comes back
// as `{code, message}` and changes nothing.
import { approvalIpc } from '../approvalIpc';
import type { ErrorDto } from '../bindings/ErrorDto';

export class WhoamiStore {
  person = $state<string | null>(null);
  loaded = $state(false);
  error = $state<ErrorDto | null>(null);

  async load(): Promise<void> {
    try {
      this.person = await approvalIpc.whoami();
      this.error = null;
    } catch (e) {
      this.person = null;
      this.error = e as ErrorDto;
    } finally {
      this.loaded = true;
    }
  }

  /** Sets who I am; rejects with the core's `{code, message}` (nothing changed). */
  async set(person: string | null): Promise<void> {
    const next = person === null || person.trim() === '' ? null : person.trim();
    this.person = await approvalIpc.setWhoami(next);
    this.error = null;
  }
}

export const whoami = new WhoamiStore();
