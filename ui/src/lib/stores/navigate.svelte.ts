// Links between views: the Timeline opens the proposal an event is about, a proposal's history
// opens its events in the Timeline. A view asks here; the frame switches to the target view and
// that view takes (and clears) what it was asked to show.
import type { ViewId } from '../nav';

export interface NavRequest {
  view: ViewId;
  /** A proposal id to open (Proposals). */
  proposal?: string;
  /** An audit seq to show and select (Timeline). */
  seq?: number;
}

export class Navigator {
  request = $state<NavRequest | null>(null);

  go(request: NavRequest) {
    this.request = { ...request };
  }

  /** What `view` was asked to show, once; null when nothing is pending for it. */
  take(view: ViewId): NavRequest | null {
    const r = this.request;
    if (!r || r.view !== view) return null;
    this.request = null;
    return r;
  }
}

export const navigation = new Navigator();
