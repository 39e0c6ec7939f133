// Typed adapters over the approver's and lead's commands (src-tauri/src/approval.rs): who I
// am on this device, my keys, the committed registry, my inbox, the signing preview, and
// signing a decision — through the one typed `call` (commands.ts). Types come from Rust
// (lib/bindings). No private key ever crosses: the core signs with the keyring's key.
import { call } from './commands';
import type { ApprovalsReport } from './bindings/ApprovalsReport';
import type { ApprovalStatus } from './bindings/ApprovalStatus';
import type { ApprovalView } from './bindings/ApprovalView';
import type { ApproversList } from './bindings/ApproversList';
import type { Inbox } from './bindings/Inbox';
import type { InboxItem } from './bindings/InboxItem';
import type { KeyInfo } from './bindings/KeyInfo';
import type { Person } from './bindings/Person';
import type { PublicKeyReport } from './bindings/PublicKeyReport';
import type { RevokeReport } from './bindings/RevokeReport';
import type { Role } from './bindings/Role';
import type { RotateReport } from './bindings/RotateReport';
import type { SignReport } from './bindings/SignReport';
import type { SigningPreview } from './bindings/SigningPreview';
import type { Tally } from './bindings/Tally';

export type {
  ApprovalsReport,
  ApprovalStatus,
  ApprovalView,
  ApproversList,
  Inbox,
  InboxItem,
  KeyInfo,
  Person,
  PublicKeyReport,
  RevokeReport,
  Role,
  RotateReport,
  SignReport,
  SigningPreview,
  Tally,
};

export const approvalIpc = {
  /** The person this device signs as (the app's config folder), or `null`. */
  whoami: () => call('whoami_get'),
  /** Sets (or, with `null`, forgets) who I am; the core says whether the id is valid. */
  setWhoami: (person: string | null) => call('whoami_set', { person }),
  inbox: (person: string) => call('approval_inbox', { person }),
  preview: (id: string, person: string) => call('approval_preview', { id, person }),
  status: (id: string) => call('approval_status', { id }),
  sign: (id: string, person: string, reject: boolean, reason: string | null) =>
    call('approval_sign', { id, person, reject, reason }),
  keys: () => call('keys_list'),
  publicKey: (person: string) => call('keys_public', { person }),
  generate: (person: string) => call('keys_generate', { person }),
  rotate: (person: string) => call('keys_rotate', { person }),
  revoke: (keyid: string, reason: string) => call('keys_revoke', { keyid, reason }),
  registry: () => call('approvers_list'),
  allowedSigners: () => call('keys_allowed_signers'),
};

/** The chip tone of an approval's status. */
export function statusTone(status: ApprovalStatus): 'ok' | 'warn' | 'bad' {
  return status === 'valid' ? 'ok' : status === 'stale' || status === 'expired' ? 'warn' : 'bad';
}

/** How a missing slot reads: "needs a lead", "needs an approver", "needs a maintainer". */
export function needs(role: string): string {
  return `needs ${/^[aeiou]/.test(role) ? 'an' : 'a'} ${role}`;
}
