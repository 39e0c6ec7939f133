// Typed adapters over the policy room's Tauri commands (src-tauri/src/policy.rs).
import { invoke } from '@tauri-apps/api/core';
import { toErrorDto } from './ipc';
import type { RecordedDecision } from './bindings/RecordedDecision';
import type { SimReport } from './bindings/SimReport';
import type { TestReport } from './bindings/TestReport';
import type { Decision } from './bindings/Decision';
import type { ProposalEval } from './bindings/ProposalEval';
import type { ProposalGate } from './bindings/ProposalGate';

export type { RecordedDecision, SimReport, TestReport, Decision, ProposalEval, ProposalGate };

async function call<T>(command: string, args?: Record<string, unknown>): Promise<T> {
  try {
    return await invoke<T>(command, args);
  } catch (error) {
    throw toErrorDto(error);
  }
}

export const policyIpc = {
  gates: () => call<ProposalGate[]>('policy_gates'),
  evaluate: (id: string) => call<ProposalEval>('policy_eval', { id }),
  test: (dirPath: string | null = null) => call<TestReport>('policy_test', { dirPath }),
  simulate: (dirPath: string | null = null) => call<SimReport>('policy_simulate', { dirPath }),
};
