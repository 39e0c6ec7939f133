// The cold start, traced in the page's own clock for `oxide-bench desktop`: a mark when the
// bundle has run (`oxide:main`), when the app is mounted (`oxide:mounted`), one measure per IPC
// call (`oxide:ipc:<command>`, from the call to its answer) and `oxide:inbox-drawn` once the
// first frame with the Inbox and its data was painted. Recording stops there, so the polling
// of a long session does not fill the browser's performance buffer.
let recording = true;

/** Records `command`'s round trip that began at `start` (a `performance.now()` value). */
export function traceIpc(command: string, start: number): void {
  if (!recording) return;
  try {
    performance.measure(`oxide:ipc:${command}`, { start, end: performance.now() });
  } catch {
    // A browser without User Timing level 3: nothing to record, nothing breaks.
  }
}

/** A named moment of the start (`oxide:<name>`). */
export function markStart(name: string): void {
  if (recording) performance.mark(`oxide:${name}`);
}

/** The Inbox with its data is on screen: the start is over. */
export function startDone(): void {
  performance.mark('oxide:inbox-drawn');
  recording = false;
}
