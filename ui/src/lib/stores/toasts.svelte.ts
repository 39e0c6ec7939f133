// Toasts: errors show their stable code and message and stay until dismissed;
// information fades after a few seconds.
import type { ErrorDto } from '../bindings/ErrorDto';

export type ToastKind = 'error' | 'info' | 'success';

export interface Toast {
  id: number;
  kind: ToastKind;
  message: string;
  /** The error's stable code (errors only). */
  code?: string;
}

export const INFO_TIMEOUT_MS = 5000;
export const MAX_TOASTS = 5;

export class ToastStore {
  items = $state<Toast[]>([]);
  #next = 1;

  push(kind: ToastKind, message: string, code?: string): number {
    const id = this.#next++;
    this.items = [...this.items, { id, kind, message, code }].slice(-MAX_TOASTS);
    if (kind !== 'error') setTimeout(() => this.dismiss(id), INFO_TIMEOUT_MS);
    return id;
  }

  error(error: ErrorDto): number {
    return this.push('error', error.message, error.code);
  }

  info(message: string): number {
    return this.push('info', message);
  }

  success(message: string): number {
    return this.push('success', message);
  }

  dismiss(id: number): void {
    this.items = this.items.filter((t) => t.id !== id);
  }

  clear(): void {
    this.items = [];
  }
}

export const toasts = new ToastStore();
