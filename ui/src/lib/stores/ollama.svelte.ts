// Whether O.X.I.D.E's model server (Ollama at OLLAMA_HOST) answers.
import { ipc, type ErrorDto, type OllamaStatus } from '../ipc';
import { toasts } from './toasts.svelte';

export class OllamaStore {
  status = $state<OllamaStatus | null>(null);
  checking = $state(false);

  /** Shown as a banner: known and not reachable. */
  get unreachable(): boolean {
    return this.status !== null && !this.status.reachable;
  }

  async check(): Promise<void> {
    this.checking = true;
    try {
      this.status = await ipc.ollamaStatus();
    } catch (error) {
      toasts.error(error as ErrorDto);
    } finally {
      this.checking = false;
    }
  }
}

export const ollama = new OllamaStore();
