// Typed adapters over the desktop app's workspace and audit commands (src-tauri/src/commands.rs),
// through the one typed `call` (commands.ts). Types come from Rust (lib/bindings).
import { call } from './commands';
import type { AuditEvent } from './bindings/AuditEvent';
// The audit check is the chain plus the signed checkpoints (signing::checkpoint::verify_audit).
import type { AuditVerifyReport as AuditVerify } from './bindings/AuditVerifyReport';
import type { ErrorDto } from './bindings/ErrorDto';
import type { OllamaStatus } from './bindings/OllamaStatus';
import type { RecentWorkspace } from './bindings/RecentWorkspace';
import type { Status } from './bindings/Status';

export type { AuditEvent, AuditVerify, ErrorDto, OllamaStatus, RecentWorkspace, Status };
export { IPC_FAILED, isErrorDto, toErrorDto } from './commands';

export const ipc = {
  /** Opens the workspace the app was started with (OXIDE_WORKSPACE, argument, last used, or the demo). */
  initialWorkspace: () => call('initial_workspace'),
  openWorkspace: (path: string) => call('open_workspace', { path }),
  openDemoWorkspace: () => call('open_demo_workspace'),
  /** Shows the native folder picker; `null` when the user cancelled. */
  pickFolder: () => call('pick_folder'),
  recentWorkspaces: () => call('recent_workspaces'),
  status: () => call('status'),
  auditList: (after: number | null = null, limit: number | null = null) => call('audit_list', { after, limit }),
  auditVerify: () => call('audit_verify'),
  ollamaStatus: () => call('ollama_status'),
};
