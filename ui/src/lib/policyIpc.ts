// Typed adapters over the policy room's Tauri commands (src-tauri/src/policy.rs), through the
// one typed `call` (commands.ts).
import { call } from './commands';
import type { RecordedDecision } from './bindings/RecordedDecision';
import type { SimReport } from './bindings/SimReport';
import type { TestReport } from './bindings/TestReport';
import type { Decision } from './bindings/Decision';
import type { PolicyInput } from './bindings/PolicyInput';
import type { ProposalEval } from './bindings/ProposalEval';
import type { ProposalGate } from './bindings/ProposalGate';
import type { Risk } from './bindings/Risk';

export type { RecordedDecision, SimReport, TestReport, Decision, PolicyInput, ProposalEval, ProposalGate, Risk };

export const policyIpc = {
  gates: () => call('policy_gates'),
  evaluate: (id: string) => call('policy_eval', { id }),
  test: (dirPath: string | null = null) => call('policy_test', { dirPath }),
  simulate: (dirPath: string | null = null) => call('policy_simulate', { dirPath }),
};
