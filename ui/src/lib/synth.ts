// Typed adapters over the skills / synthesis / proposal-view commands
// (src-tauri/src/synthesis.rs). Types come from Rust (lib/bindings).
import { invoke } from '@tauri-apps/api/core';
import { toErrorDto } from './ipc';
import type { Added } from './bindings/Added';
import type { Discovered } from './bindings/Discovered';
import type { PinStatus } from './bindings/PinStatus';
import type { ProposalDetail } from './bindings/ProposalDetail';
import type { ProposeOutcome } from './bindings/ProposeOutcome';
import type { Skill } from './bindings/Skill';

export type { Added, Discovered, PinStatus, ProposalDetail, ProposeOutcome, Skill };

async function call<T>(command: string, args?: Record<string, unknown>): Promise<T> {
  try {
    return await invoke<T>(command, args);
  } catch (error) {
    throw toErrorDto(error);
  }
}

export const synthIpc = {
  skillsList: () => call<Skill[]>('skills_list'),
  skillAdd: (path: string) => call<Added>('skill_add', { path }),
  /** Native file picker; `null` when cancelled. */
  skillPickFile: () => call<string | null>('skill_pick_file'),
  skillDiscover: () => call<Discovered[]>('skill_discover'),
  propose: (skill: string, replay: boolean) => call<ProposeOutcome>('propose', { skill, replay }),
  proposeCancel: () => call<boolean>('propose_cancel'),
  proposalDetail: (id: string) => call<ProposalDetail>('proposal_detail', { id }),
  pinStatus: () => call<PinStatus>('ollama_pin_status'),
};
