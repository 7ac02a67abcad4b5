// Internal: how long the current turn of the event loop has run, shared by
// every session and pump, so that work driven by promises and microtasks
// alone (reads that complete at once, a producer that never waits) lets
// timers and the other connections run.

/** Sessions and pumps yield once the current turn has run this long (ms). */
export const TURN_MS = 8;

let start = 0;
/** A 0 ms timer set at a turn's first check: once it fired, the loop has turned. */
let marker: ReturnType<typeof setTimeout> | undefined;
/** Sessions running: the marker is cleared when none is left, so that no timer outlives them. */
let active = 0;

function turned(): void {
  marker = undefined;
}

/**
 * Whether the current turn of the event loop has run for `TURN_MS` since the
 * first call in it.
 */
export function turnOver(): boolean {
  const now = performance.now();
  if (marker === undefined) {
    start = now;
    if (active > 0) marker = setTimeout(turned, 0);
    return false;
  }
  return now - start >= TURN_MS;
}

/** Resolves in a later turn of the event loop. */
export function nextTurn(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

/** A session started. */
export function sessionStarted(): void {
  active++;
}

/** A session ended. */
export function sessionEnded(): void {
  active--;
  if (active === 0 && marker !== undefined) {
    clearTimeout(marker);
    marker = undefined;
  }
}
