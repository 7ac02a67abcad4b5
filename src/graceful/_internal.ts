// Internal entry of graceful, unpublished: what netkit's own modules share
// with it (http tracks its connections in graceful's state machine).
export { checkDrainOptions, checkGrace, type Entry, newEntry, Tracker } from "./_tracker.ts";
