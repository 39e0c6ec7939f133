// Typed adapters over the skills / synthesis / proposal-view commands
// (src-tauri/src/synthesis.rs), through the one typed `call` (commands.ts).
import { call } from './commands';
import type { Added } from './bindings/Added';
import type { Discovered } from './bindings/Discovered';
import type { PinStatus } from './bindings/PinStatus';
import type { ProposalDetail } from './bindings/ProposalDetail';
import type { ProposeOutcome } from './bindings/ProposeOutcome';
import type { Skill } from './bindings/Skill';

export type { Added, Discovered, PinStatus, ProposalDetail, ProposeOutcome, Skill };

export const synthIpc = {
  skillsList: () => call('skills_list'),
  skillAdd: (path: string) => call('skill_add', { path }),
  /** Native file picker; `null` when cancelled. */
  skillPickFile: () => call('skill_pick_file'),
  skillDiscover: () => call('skill_discover'),
  propose: (skill: string, replay: boolean) => call('propose', { skill, replay }),
  proposeCancel: () => call('propose_cancel'),
  proposalDetail: (id: string) => call('proposal_detail', { id }),
  pinStatus: () => call('ollama_pin_status'),
};
