import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { render, screen, waitFor, within } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import { clearMocks, mockIPC } from '@tauri-apps/api/mocks';
import Inbox from '../Inbox.svelte';
import MyKeys from './MyKeys.svelte';
import RegistryPanel from './RegistryPanel.svelte';
import { whoami } from '$lib/stores/whoami.svelte';
import { toasts } from '$lib/stores/toasts.svelte';
import type { ApprovalsReport, Inbox as InboxT, SigningPreview, SignReport, ApproversList } from '$lib/approvalIpc';
import type { ProposalDetail } from '$lib/synth';
import type { ProposalView } from '$lib/workflow';
import type { ProposalGate } from '$lib/policyIpc';

const BASE = 'a'.repeat(40);
const KEY_ANA = '1'.repeat(64);
const KEY_LEE = '2'.repeat(64);

function detail(id: string): ProposalDetail {
  return {
    proposal: {
      id,
      digest: `sha256:${'d'.repeat(64)}`,
      skill_id: null,
      state: 'validated',
      failure_reason_code: null,
      policy_reason_code: null,
      superseded_by: null,
      created_at: '2026-11-30T10:00:00Z',
      updated_at: '2026-11-30T10:00:00Z',
      bundle: {
        schema_version: 'oxide.proposal/v1',
        skill_digest: `sha256:${'c'.repeat(64)}`,
        base: { branch: 'main', commit: BASE },
        intent: { rationale: 'Harden the session check', risk_hints: [], ops: [] },
        provenance: {
          synthesizer: 'ollama',
          model: 'llama3.2:latest',
          model_digest: 'a80c4f17acd5',
          options: { seed: 42, temperature: 0, num_ctx: 8192 },
          prompt_template_version: 'oxide.prompt/v1',
          prompt_sha256: 'sha256:feed',
          response_sha256: 'sha256:beef',
        },
        created_at: '2026-11-30T10:00:00Z',
      },
    },
    diff: { base_commit: BASE, base_tree: null, head_tree: null, branch: `oxide/proposals/${id}`, head_commit: 'b'.repeat(40), files: [], problems: [] },
  };
}

function view(id: string): ProposalView {
  const d = detail(id).proposal;
  return {
    id,
    digest: d.digest,
    state: 'validated',
    bundle: d.bundle,
    failure_reason_code: null,
    policy_reason_code: null,
    superseded_by: null,
    created_at: d.created_at,
    updated_at: d.updated_at,
    branch: null,
    checks: [
      {
        run_id: 'run1',
        seq: 1,
        name: 'unit',
        required: true,
        status: 'passed',
        exit_code: 0,
        duration_ms: 120,
        failure_reason_code: null,
        output: 'test result: ok. 3 passed',
        output_truncated: false,
        sandboxed: true,
      },
    ],
    transitions: [],
  };
}

const gate = (id: string): ProposalGate => ({
  id,
  state: 'validated',
  rationale: 'Harden the session check',
  failure_reason_code: null,
  policy_reason_code: null,
  latest: {
    decision_id: 1,
    audit_seq: 9,
    decided_at: '2026-11-30T10:05:00Z',
    version: 'oxide.policy/v1',
    subject: id,
    input_digest: 'sha256:in',
    policy_digest: `sha256:${'e'.repeat(64)}`,
    outcome: 'allowed',
    risk: 'high',
    required: { count: 2, roles: ['lead', 'approver'] },
    denials: [],
    warnings: [],
    escalations: [{ rule: 'oxide.protected_path', risk: 'high', message: 'touches protected paths: src/auth/session.rs' }],
    policy_reason_code: null,
    failure_reason_code: null,
  },
});

const anaApproval = {
  approval_id: 1,
  person: 'ana',
  role: 'approver',
  roles: ['approver' as const],
  keyid: KEY_ANA,
  decision: 'approve' as const,
  status: 'valid' as const,
  problems: [],
  reason: '',
  issued_at: '2026-11-30T10:10:00Z',
  expires_at: '2026-12-07T10:10:00Z',
  counted: true,
  why: null,
};

function report(id: string, approvals = [anaApproval], missing = ['lead']): ApprovalsReport {
  return {
    id,
    state: 'validated',
    facts: null,
    approvals,
    tally: {
      required: { count: 2, roles: ['lead', 'approver'] },
      slots: ['lead', 'approver'],
      counted: approvals.map((a) => ({ approval_id: a.approval_id, person: a.person, keyid: a.keyid, slot: 'approver' })),
      not_counted: [],
      blocking: [],
      missing,
      satisfied: missing.length === 0,
    },
    problems: [],
  };
}

function preview(id: string, person: string): SigningPreview {
  return {
    id,
    person,
    keyid: KEY_LEE,
    roles: ['lead'],
    role: 'lead',
    bundle_digest: `sha256:${'d'.repeat(64)}`,
    base_commit: BASE,
    branch_commit: 'b'.repeat(40),
    result_tree: 'f'.repeat(40),
    policy_digest: `sha256:${'e'.repeat(64)}`,
    risk: 'high',
    validation_run: 'run1',
    checks_digest: 'sha256:checks',
    issued_at: '2026-11-30T11:00:00Z',
    expires_at: '2026-12-07T11:00:00Z',
    refusals: [],
  };
}

const inbox: InboxT = {
  person: 'lee',
  roles: ['lead'],
  items: ['p2', 'p1'].map((id) => ({
    id,
    state: 'validated',
    rationale: `Change ${id}`,
    risk: 'high',
    created_at: '2026-11-30T10:00:00Z',
    label: 'needs a lead',
    missing: ['lead'],
    given: [anaApproval],
  })),
  problems: [],
};

let calls: [string, Record<string, unknown>][] = [];
let signed = false;

beforeEach(() => {
  calls = [];
  signed = false;
  whoami.person = null;
  whoami.loaded = false;
  toasts.items = [];
  mockIPC((cmd, args) => {
    calls.push([cmd, (args ?? {}) as Record<string, unknown>]);
    const a = (args ?? {}) as Record<string, string>;
    switch (cmd) {
      case 'whoami_get':
        return 'lee';
      case 'approval_inbox':
        return signed ? { ...inbox, items: inbox.items.filter((i) => i.id !== 'p2') } : inbox;
      case 'rollout_queue':
        return { person: 'lee', may_promote: true, items: [], problems: [] };
      case 'proposal_detail':
        return detail(a.id);
      case 'proposal_view':
        return view(a.id);
      case 'policy_gates':
        return [gate('p1'), gate('p2')];
      case 'approval_status':
        return signed ? report(a.id, [anaApproval, { ...anaApproval, approval_id: 2, person: 'lee', role: 'lead', keyid: KEY_LEE }], []) : report(a.id);
      case 'approval_preview':
        return preview(a.id, a.person);
      case 'approval_sign': {
        signed = true;
        const r: SignReport = {
          id: a.id,
          approval_id: 2,
          keyid: KEY_LEE,
          person: a.person,
          decision: (args as { reject: boolean }).reject ? 'reject' : 'approve',
          envelope: {},
          state: (args as { reject: boolean }).reject ? 'rejected' : 'approved',
          counted: true,
          why: null,
          tally: report(a.id, [], []).tally,
          checkpoint_seq: 12,
        };
        return r;
      }
      case 'status':
        return { workspace: '/w', db: '/d', audit_events: 1, proposals: {}, initialized: true };
      case 'proposal_history':
        return { id: a.id, state: signed ? 'approved' : 'validated', entries: [] };
      default:
        throw new Error(`unexpected ${cmd}`);
    }
  });
});
afterEach(() => clearMocks());

describe('Inbox', () => {
  it('lists what waits for this person, newest first, with what was given and what is missing', async () => {
    render(Inbox);
    await waitFor(() => expect(screen.getAllByTestId('inbox-item')).toHaveLength(2));
    expect(calls.find(([c]) => c === 'approval_inbox')?.[1]).toEqual({ person: 'lee' });
    expect(screen.getAllByTestId('inbox-item').map((e) => e.getAttribute('data-id'))).toEqual(['p2', 'p1']);
    expect(screen.getAllByTestId('inbox-label').map((e) => e.textContent)).toEqual(['needs a lead', 'needs a lead']);
    expect(screen.getAllByTestId('inbox-given')[0].textContent).toContain('ana (approver): approve · valid');
    expect(screen.getAllByTestId('inbox-missing')[0].textContent).toBe('needs a lead');
    expect(screen.getByTestId('inbox-role').textContent).toBe('lead');
  });

  it('opens the approver page with j, approves with a and signs as this person', async () => {
    const user = userEvent.setup();
    render(Inbox);
    await waitFor(() => expect(screen.getAllByTestId('inbox-item')).toHaveLength(2));
    await user.keyboard('j');
    const page = await screen.findByTestId('approver-page');
    expect(page.querySelector('h2')?.textContent).toBe('Proposal p2');
    // Everything the approver needs is on the page.
    await waitFor(() => expect(screen.getByTestId('signing-preview')).toBeTruthy());
    expect(screen.getByTestId('signing-person').textContent).toBe('lee');
    expect(screen.getByTestId('signing-role').textContent).toBe('lead');
    expect(screen.getByTestId('signing-keyid').getAttribute('title')).toBe(KEY_LEE);
    for (const [key, value] of [
      ['bundle', `sha256:${'d'.repeat(64)}`],
      ['base', BASE],
      ['branch', 'b'.repeat(40)],
      ['tree', 'f'.repeat(40)],
      ['policy', `sha256:${'e'.repeat(64)}`],
      ['risk', 'high'],
      ['expires', '2026-12-07T11:00:00Z'],
    ]) {
      expect(screen.getByTestId(`binds-${key}`).textContent).toBe(value);
    }
    expect(screen.getByTestId('approver-risk-risk').textContent).toBe('Risk high');
    expect(screen.getAllByTestId('gate-reason').map((e) => e.textContent)).toContain('touches protected paths: src/auth/session.rs');
    expect(screen.getByTestId('approver-check').getAttribute('data-status')).toBe('passed');
    expect(screen.getByTestId('approver-check-output').textContent).toBe('test result: ok. 3 passed');
    expect(screen.getByTestId('prov-seed').textContent).toBe('42');
    expect(screen.getByTestId('prov-prompt').textContent).toBe('sha256:feed');
    expect(screen.getByTestId('prov-model-digest').textContent).toBe('a80c4f17acd5');
    expect(screen.getByTestId('approvals-needs').textContent).toBe('needs a lead');
    expect(screen.getByTestId('approval').getAttribute('data-status')).toBe('valid');

    // k stays on the first item; j moves on.
    await user.keyboard('k');
    expect(screen.getAllByTestId('inbox-item')[0].getAttribute('aria-current')).toBe('true');

    await user.keyboard('a');
    expect(await screen.findByTestId('approve-step')).toBeTruthy();
    await user.click(screen.getByTestId('approve-confirm'));
    await waitFor(() => expect(calls.some(([c]) => c === 'approval_sign')).toBe(true));
    expect(calls.find(([c]) => c === 'approval_sign')?.[1]).toEqual({ id: 'p2', person: 'lee', reject: false, reason: null });
    await waitFor(() => expect(screen.getByTestId('approvals-missing').textContent).toContain('every required approval is given'));
    expect(toasts.items.at(-1)?.message).toContain('proposal p2 is approved');
    // The signed proposal left this person's inbox.
    await waitFor(() => expect(screen.getAllByTestId('inbox-item')).toHaveLength(1));
  });

  it('rejects only with a reason, and typing the reason never triggers a shortcut', async () => {
    const user = userEvent.setup();
    render(Inbox);
    await waitFor(() => expect(screen.getAllByTestId('inbox-item')).toHaveLength(2));
    await user.click(screen.getAllByTestId('inbox-item')[1]);
    await waitFor(() => expect(screen.getByTestId('reject-open').hasAttribute('disabled')).toBe(false));
    await user.keyboard('r');
    const reason = await screen.findByTestId('reject-reason');
    expect(document.activeElement).toBe(reason);
    expect(screen.getByTestId('reject-confirm').hasAttribute('disabled')).toBe(true);
    await user.keyboard('a jar of risk');
    // "a", "j" and "r" went into the text, not to the shortcuts.
    expect((reason as HTMLTextAreaElement).value).toBe('a jar of risk');
    expect(screen.queryByTestId('approve-step')).toBeNull();
    await user.click(screen.getByTestId('reject-confirm'));
    await waitFor(() => expect(calls.some(([c]) => c === 'approval_sign')).toBe(true));
    expect(calls.find(([c]) => c === 'approval_sign')?.[1]).toEqual({ id: 'p1', person: 'lee', reject: true, reason: 'a jar of risk' });
  });

  it('asks who you are before listing anything', async () => {
    mockIPC((cmd) => {
      if (cmd === 'whoami_get') return null;
      if (cmd === 'status') return { workspace: '/w', db: '/d', audit_events: 1, proposals: {}, initialized: true };
      throw new Error(`unexpected ${cmd}`);
    });
    render(Inbox);
    expect(await screen.findByTestId('inbox-no-person')).toBeTruthy();
    expect(screen.queryByTestId('inbox')).toBeNull();
  });
});

describe('Settings: who I am and my key', () => {
  it('stores who I am through the core, and shows its refusal', async () => {
    const user = userEvent.setup();
    let stored: string | null = null;
    mockIPC((cmd, args) => {
      const a = (args ?? {}) as { person?: string | null };
      switch (cmd) {
        case 'whoami_get':
          return stored;
        case 'whoami_set':
          if (a.person && /\s/.test(a.person)) throw { code: 'SIGNING_BAD_PERSON', message: `bad person id "${a.person}"` };
          stored = a.person ?? null;
          return stored;
        case 'keys_list':
          return [];
        case 'keys_public':
          throw { code: 'SIGNING_NO_KEY', message: 'no key for this person in the keyring' };
        case 'keys_generate':
          return {
            keyid: KEY_ANA,
            purpose: 'person',
            person: a.person,
            public: 'ssh-ed25519 AAAAC3Nza ana',
            keyring_entry: 'person:ana',
            created_at: '2026-11-30T10:00:00Z',
            rotated_at: null,
            revoked_at: null,
            revoke_reason: null,
          };
        default:
          throw new Error(`unexpected ${cmd}`);
      }
    });
    render(MyKeys);
    await waitFor(() => expect(whoami.loaded).toBe(true));
    expect(screen.getByTestId('whoami-current').textContent).toBe('nobody');
    await user.type(screen.getByTestId('whoami-input'), 'ana lee');
    await user.click(screen.getByTestId('whoami-save'));
    await waitFor(() => expect(toasts.items.at(-1)?.code).toBe('SIGNING_BAD_PERSON'));
    expect(screen.getByTestId('whoami-current').textContent).toBe('nobody');
    await user.clear(screen.getByTestId('whoami-input'));
    await user.type(screen.getByTestId('whoami-input'), 'ana{Enter}');
    await waitFor(() => expect(screen.getByTestId('whoami-current').textContent).toBe('ana'));
    expect(stored).toBe('ana');
    // No key yet: the core says so, and Generate makes one.
    expect((await screen.findByTestId('keys-none')).textContent).toContain('SIGNING_NO_KEY');
    await user.click(screen.getByTestId('keys-generate'));
    await waitFor(() => expect(screen.getByTestId('keys-note').textContent).toContain('approvers add --person ana'));
  });

  it('shows the public key and its allowed_signers line, and revokes with a reason', async () => {
    const user = userEvent.setup();
    let revoked: unknown = null;
    mockIPC((cmd, args) => {
      switch (cmd) {
        case 'whoami_get':
          return 'ana';
        case 'keys_list':
          return [
            {
              keyid: KEY_ANA,
              purpose: 'person',
              person: 'ana',
              public: 'ssh-ed25519 AAAAC3Nza ana',
              keyring_entry: 'person:ana',
              created_at: '2026-11-30T10:00:00Z',
              rotated_at: null,
              revoked_at: null,
              revoke_reason: null,
            },
          ];
        case 'keys_public':
          return { person: 'ana', keyid: KEY_ANA, public: 'ssh-ed25519 AAAAC3Nza ana', allowed_signers_line: 'ana namespaces="git" ssh-ed25519 AAAAC3Nza' };
        case 'keys_revoke':
          revoked = args;
          return { keyid: KEY_ANA, revoked_at: '2026-11-30T12:00:00Z', reason: 'lost', person: 'ana', local: true, registry: {}, in_force: false, note: 'commit .oxide/approvers.toml' };
        default:
          throw new Error(`unexpected ${cmd}`);
      }
    });
    render(MyKeys);
    expect((await screen.findByTestId('keys-public')).textContent).toBe('ssh-ed25519 AAAAC3Nza ana');
    expect(screen.getByTestId('keys-allowed-line').textContent).toBe('ana namespaces="git" ssh-ed25519 AAAAC3Nza');
    const row = await screen.findByTestId('key-row');
    await user.click(within(row).getByTestId('key-revoke'));
    expect(screen.getByTestId('key-revoke-confirm').hasAttribute('disabled')).toBe(true);
    await user.type(screen.getByTestId('key-revoke-reason'), 'lost');
    await user.click(screen.getByTestId('key-revoke-confirm'));
    await waitFor(() => expect(revoked).toEqual({ keyid: KEY_ANA, reason: 'lost' }));
    expect(screen.getByTestId('keys-note').textContent).toBe('commit .oxide/approvers.toml');
  });

  it('shows the registry as committed, and says when a draft is not in force', async () => {
    const list: ApproversList = {
      persons: [
        {
          id: 'lee',
          name: 'Lee',
          roles: ['lead'],
          keys: [{ public: 'ssh-ed25519 AAAA lee', keyid: KEY_LEE, valid_from: '2026-11-30T10:00:00Z', valid_until: null, revoked_at: null, revoke_reason: null }],
        },
      ],
      target_branch: 'main',
      draft_pending: true,
    };
    mockIPC((cmd) => {
      if (cmd === 'approvers_list') return list;
      if (cmd === 'keys_allowed_signers') return 'lee namespaces="git" ssh-ed25519 AAAA\n';
      throw new Error(`unexpected ${cmd}`);
    });
    render(RegistryPanel);
    expect((await screen.findByTestId('registry-person')).getAttribute('data-id')).toBe('lee');
    expect(screen.getByTestId('registry-draft').textContent).toContain('not in force until committed');
    expect(screen.getByTestId('registry-allowed-signers').textContent).toBe('lee namespaces="git" ssh-ed25519 AAAA\n');
  });
});
