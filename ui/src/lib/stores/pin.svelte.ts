// Whether O.X.I.D.E's pinned model answers at its pinned digest (the pin banner).
import { synthIpc, type PinStatus } from '../synth';

export class PinStore {
  status = $state<PinStatus | null>(null);
  checking = $state(false);

  /** Shown as a banner: the server answers, but the pinned model cannot be used. */
  get broken(): boolean {
    return this.status !== null && this.status.reachable && !this.status.ok;
  }

  async check(): Promise<void> {
    this.checking = true;
    try {
      this.status = await synthIpc.pinStatus();
    } catch {
      // No workspace open yet: nothing to say about its pin.
      this.status = null;
    } finally {
      this.checking = false;
    }
  }
}

export const pin = new PinStore();
