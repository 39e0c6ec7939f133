import { afterEach, describe, expect, it } from 'vitest';
import { clearMocks, mockIPC } from '@tauri-apps/api/mocks';
import { IPC_FAILED, ipc, isErrorDto, toErrorDto } from './ipc';

afterEach(() => clearMocks());

describe('toErrorDto', () => {
  it('keeps a core error as it came', () => {
    expect(toErrorDto({ code: 'STORE_NOT_OXIDE_DB', message: 'not an OXIDE database', extra: 1 })).toEqual({
      code: 'STORE_NOT_OXIDE_DB',
      message: 'not an OXIDE database',
    });
  });

  it('wraps anything else under IPC_FAILED', () => {
    expect(toErrorDto(new Error('boom'))).toEqual({ code: IPC_FAILED, message: 'boom' });
    expect(toErrorDto('text')).toEqual({ code: IPC_FAILED, message: 'text' });
    expect(isErrorDto({ code: 1, message: 'x' })).toBe(false);
  });
});

describe('ipc', () => {
  it('calls the named commands with their arguments', async () => {
    const calls: [string, unknown][] = [];
    mockIPC((cmd, args) => {
      calls.push([cmd, args]);
      if (cmd === 'audit_list') return [];
      if (cmd === 'open_workspace') return { workspace: '/w', db: '/d', audit_events: 1, proposals: {}, initialized: true };
      return null;
    });
    await ipc.auditList(5, 10);
    const status = await ipc.openWorkspace('/w');
    expect(status.workspace).toBe('/w');
    expect(calls).toEqual([
      ['audit_list', { after: 5, limit: 10 }],
      ['open_workspace', { path: '/w' }],
    ]);
  });

  it('rejects with the command error as {code, message}', async () => {
    mockIPC(() => {
      throw { code: 'WORKSPACE_NOT_GIT', message: '/tmp/x is not a git repository' };
    });
    await expect(ipc.status()).rejects.toEqual({
      code: 'WORKSPACE_NOT_GIT',
      message: '/tmp/x is not a git repository',
    });
  });
});
