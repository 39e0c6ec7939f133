import { afterEach, describe, expect, it } from 'vitest';
import { clearMocks, mockIPC } from '@tauri-apps/api/mocks';
import namesSource from '../../../src-tauri/command_names.rs?raw';
import { COMMAND_ARGS, call } from './commands';

// The Rust side of the IPC contract, read as text: the list of command names and every
// `#[tauri::command]` function with its parameters.
const rustSources = import.meta.glob('../../../src-tauri/src/*.rs', {
  query: '?raw',
  import: 'default',
  eager: true,
}) as Record<string, string>;

afterEach(() => clearMocks());

/** The names in command_names.rs, in order. */
function commandNames(source: string): string[] {
  return [...source.matchAll(/^\s*"([a-z_]+)",/gm)].map((m) => m[1]);
}

/** Splits `a: A, b: B<C, D>` at the commas outside brackets. */
function splitParams(params: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of params) {
    if (ch === '<' || ch === '(' || ch === '[') depth += 1;
    if (ch === '>' || ch === ')' || ch === ']') depth -= 1;
    if (ch === ',' && depth === 0) {
      out.push(cur);
      cur = '';
    } else {
      cur += ch;
    }
  }
  out.push(cur);
  return out.map((p) => p.trim()).filter((p) => p !== '');
}

const camel = (s: string) => s.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());

/** Every `#[tauri::command]` function and the argument keys the webview passes to it. */
function rustCommandArgs(sources: string[]): Map<string, string[]> {
  const found = new Map<string, string[]>();
  const re = /#\[tauri::command\]\s*pub\s+(?:async\s+)?fn\s+([a-z_]+)\s*\(([^)]*)\)/g;
  for (const source of sources) {
    for (const m of source.matchAll(re)) {
      const keys = splitParams(m[2])
        .map((p) => p.split(':').map((s) => s.trim()))
        // The app handle and managed state are supplied by Tauri, not by the webview.
        .filter(([, ty]) => !/^(tauri::)?(AppHandle|State<|Window|WebviewWindow)/.test(ty))
        .map(([name]) => camel(name));
      found.set(m[1], keys);
    }
  }
  return found;
}

describe('the command list', () => {
  it('names exactly the commands of src-tauri/command_names.rs', () => {
    const names = commandNames(namesSource);
    expect(names.length).toBeGreaterThan(20);
    expect(Object.keys(COMMAND_ARGS).sort()).toEqual([...names].sort());
  });

  it('passes exactly the argument keys each Rust command takes', () => {
    const rust = rustCommandArgs(Object.values(rustSources));
    expect(rust.size).toBe(commandNames(namesSource).length);
    for (const [name, keys] of Object.entries(COMMAND_ARGS)) {
      expect([name, [...keys].sort()]).toEqual([name, [...(rust.get(name) ?? ['<no such command>'])].sort()]);
    }
  });

  it('finds a parameter the webview would have to pass', () => {
    const rust = rustCommandArgs([
      '#[tauri::command]\npub async fn x(app: AppHandle, state: State<\'_, AppState>, dir_path: Option<String>, from: u32) -> u8 {}',
    ]);
    expect(rust.get('x')).toEqual(['dirPath', 'from']);
  });
});

describe('call', () => {
  it('invokes the named command with its arguments and resolves with the result', async () => {
    const calls: [string, unknown][] = [];
    mockIPC((cmd, args) => {
      calls.push([cmd, args]);
      return cmd === 'binder_capsule' ? { capsule: null } : true;
    });
    expect(await call('propose_cancel')).toBe(true);
    await call('binder_capsule', { upsertKey: 'k' });
    expect(calls).toEqual([
      ['propose_cancel', {}],
      ['binder_capsule', { upsertKey: 'k' }],
    ]);
  });

  it('rejects with {code, message} whatever the failure', async () => {
    mockIPC(() => {
      throw new Error('transport gone');
    });
    await expect(call('status')).rejects.toEqual({ code: 'IPC_FAILED', message: 'transport gone' });
  });
});
