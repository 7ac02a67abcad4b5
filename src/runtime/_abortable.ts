// Internal: lets a caller give up on a pending open (connect) with a signal;
// whatever opens after that is closed, not leaked. Runtime-free.

/** Resolves with `pending`, or rejects with the signal's reason on abort. */
export function abortable<T extends { close(): void }>(
  pending: Promise<T>,
  signal: AbortSignal | undefined,
): Promise<T> {
  if (signal === undefined) return pending;
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => {
      reject(signal.reason);
      pending.then((value) => value.close(), () => {});
    };
    signal.addEventListener("abort", onAbort, { once: true });
    pending.then((value) => {
      signal.removeEventListener("abort", onAbort);
      if (!signal.aborted) resolve(value);
    }, (err) => {
      signal.removeEventListener("abort", onAbort);
      reject(err);
    });
  });
}
