// The opened workspace: its status, the recent list, and the actions that change them.
// Failures become error toasts carrying the core's {code, message}.
import { ipc, type ErrorDto, type RecentWorkspace, type Status } from '../ipc';
import { toasts } from './toasts.svelte';

export class WorkspaceStore {
  status = $state<Status | null>(null);
  recent = $state<RecentWorkspace[]>([]);
  busy = $state(false);
  /** The last failure to open a workspace, shown in place until another open succeeds. */
  error = $state<ErrorDto | null>(null);
  /** Bumped on every successful open, so views reload their data. */
  generation = $state(0);

  async #run(action: () => Promise<Status | null>): Promise<boolean> {
    this.busy = true;
    try {
      const status = await action();
      if (status === null) return false;
      this.status = status;
      this.error = null;
      this.generation += 1;
      await this.loadRecent();
      return true;
    } catch (error) {
      this.error = error as ErrorDto;
      toasts.error(error as ErrorDto);
      return false;
    } finally {
      this.busy = false;
    }
  }

  start(): Promise<boolean> {
    return this.#run(() => ipc.initialWorkspace());
  }

  open(path: string): Promise<boolean> {
    return this.#run(() => ipc.openWorkspace(path));
  }

  openDemo(): Promise<boolean> {
    return this.#run(() => ipc.openDemoWorkspace());
  }

  /** Native folder picker, then open; cancelling changes nothing. */
  async pickAndOpen(): Promise<boolean> {
    let path: string | null;
    try {
      path = await ipc.pickFolder();
    } catch (error) {
      toasts.error(error as ErrorDto);
      return false;
    }
    return path === null ? false : this.open(path);
  }

  /** Something outside the app's own actions changed the workspace (a sync brought
   * approvals, proposals or promotions): the views reload, as after an open. */
  async changed(): Promise<void> {
    this.generation += 1;
    await this.refresh();
  }

  async refresh(): Promise<void> {
    try {
      this.status = await ipc.status();
    } catch (error) {
      toasts.error(error as ErrorDto);
    }
  }

  async loadRecent(): Promise<void> {
    try {
      this.recent = await ipc.recentWorkspaces();
    } catch (error) {
      toasts.error(error as ErrorDto);
    }
  }
}

export const workspace = new WorkspaceStore();
