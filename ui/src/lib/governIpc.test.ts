import { describe, expect, it } from 'vitest';
import { changedEdits, waitingPhrase } from './governIpc';

describe('waitingPhrase', () => {
  it('says the open role slots in words', () => {
    expect(waitingPhrase(['lead', 'lead', 'maintainer'])).toBe('two leads and a maintainer');
    expect(waitingPhrase(['approver'])).toBe('an approver');
    expect(waitingPhrase(['approver', 'approver'])).toBe('two approvers');
    expect(waitingPhrase(['lead', 'approver', 'maintainer'])).toBe('a lead, an approver and a maintainer');
    expect(waitingPhrase([])).toBe('nobody');
    expect(waitingPhrase(Array(12).fill('lead'))).toBe('12 leads');
  });
});

describe('changedEdits', () => {
  it('sends only the files whose text differs from the committed one', () => {
    const files = [
      { path: '.oxide/oxide.toml', kind: 'settings' as const, text: 'a = 1\n' },
      { path: '.oxide/approvers.toml', kind: 'registry' as const, text: null },
      { path: '.oxide/checks.toml', kind: 'checks' as const, text: 'x' },
    ];
    expect(
      changedEdits(files, { '.oxide/oxide.toml': 'a = 2\n', '.oxide/approvers.toml': '', '.oxide/checks.toml': 'x' }),
    ).toEqual([{ path: '.oxide/oxide.toml', text: 'a = 2\n' }]);
    expect(changedEdits(files, { '.oxide/approvers.toml': '[[person]]\n' })).toEqual([
      { path: '.oxide/approvers.toml', text: '[[person]]\n' },
    ]);
  });
});
