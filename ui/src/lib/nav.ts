// The frame's views, their order (Alt+1..8) and the keyboard rules of the navigation list.

export type ViewId = 'inbox' | 'proposals' | 'skills' | 'capsules' | 'timeline' | 'policy' | 'settings' | 'charts';

export interface ViewInfo {
  id: ViewId;
  label: string;
  /** What this view will show; empty views say it plainly. */
  purpose: string;
}

export const VIEWS: readonly ViewInfo[] = [
  {
    id: 'inbox',
    label: 'Inbox',
    purpose: 'Proposals waiting for your review or approval will appear here, newest first.',
  },
  {
    id: 'proposals',
    label: 'Proposals',
    purpose:
      'Every change O.X.I.D.E proposed to this workspace will appear here with its state: proposed, validated, approved, promoted, or why it stopped.',
  },
  {
    id: 'skills',
    label: 'Skills',
    purpose: 'Skills submitted for O.X.I.D.E to work on will appear here, with their source and digest.',
  },
  {
    id: 'capsules',
    label: 'Capsules',
    purpose:
      'Capsules distilled from CI envelopes will appear here, with their support, contradictions, confidence and eligibility.',
  },
  {
    id: 'timeline',
    label: 'Timeline',
    purpose: 'The hash-chained audit log of this workspace.',
  },
  {
    id: 'policy',
    label: 'Policy',
    purpose:
      'The Rego risk gates in .oxide/policy, their tests and simulations against past decisions will appear here.',
  },
  {
    id: 'settings',
    label: 'Settings',
    purpose: 'Theme, workspace and O.X.I.D.E connection.',
  },
  {
    id: 'charts',
    label: 'Charts',
    purpose:
      'How governance is going: events per day, proposals by state and risk, time to approval and promotion, denials and failures by reason.',
  },
];

export function isViewId(value: string): value is ViewId {
  return VIEWS.some((v) => v.id === value);
}

interface KeyLike {
  key: string;
  code?: string;
  altKey: boolean;
  ctrlKey: boolean;
  metaKey: boolean;
  shiftKey: boolean;
}

/** Alt+1..8 jumps to a view, wherever the focus is. */
export function viewForShortcut(event: KeyLike): ViewId | null {
  if (!event.altKey || event.ctrlKey || event.metaKey || event.shiftKey) return null;
  // `code` survives keyboard layouts where Alt+digit types another character.
  const digit = event.code?.startsWith('Digit') ? event.code.slice(5) : event.key;
  const index = Number.parseInt(digit, 10);
  if (!Number.isInteger(index) || index < 1 || index > VIEWS.length) return null;
  return VIEWS[index - 1].id;
}

/** Roving focus in the navigation list: arrows move (wrapping), Home/End jump. */
export function nextNavIndex(current: number, key: string, count: number): number | null {
  if (count <= 0) return null;
  switch (key) {
    case 'ArrowDown':
    case 'ArrowRight':
      return (current + 1) % count;
    case 'ArrowUp':
    case 'ArrowLeft':
      return (current - 1 + count) % count;
    case 'Home':
      return 0;
    case 'End':
      return count - 1;
    default:
      return null;
  }
}
