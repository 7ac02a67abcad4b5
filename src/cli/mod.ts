/**
 * `netkit run`: zero-downtime restarts for any program that speaks systemd
 * socket activation, in any language (what einhorn and catflap do).
 *
 * ```sh
 * npx netkit run --listen 127.0.0.1:8080 -- ./server
 * deno run -A jsr:@netkit/netkit/cli run --listen 127.0.0.1:8080 -- ./server
 * bunx netkit run --listen web=:8080 -- ./server
 * ```
 *
 * It holds the listening sockets (without ever accepting on them), starts the
 * command with them from fd 3 and `LISTEN_FDS`, `LISTEN_FDNAMES` and
 * `LISTEN_PID` set, and on SIGHUP starts a new copy, waits until it is ready,
 * then sends the old one SIGTERM. The new copy counts as ready at the first
 * of: a netkit program's `ready()`; `READY=1\n` written to the fd named by
 * `NETKIT_READY_FD` (any language); `READY=1` on `NOTIFY_SOCKET` where the
 * runtime running netkit can receive Unix datagrams (Deno with
 * `--unstable-net`, Bun; not Node); `--ready-delay` milliseconds after it
 * started, as einhorn's timer ACK (`--ready-delay 0`: wait for an
 * announcement). A copy that exits first or is not ready within `--timeout`
 * is killed, and the old one goes on serving. SIGTERM and SIGINT stop the
 * program (SIGTERM) and exit with its code (128 + n if it died by signal n);
 * so does the program exiting on its own. The signal handlers are in place
 * before the program starts: a signal before the first copy is ready stops
 * (or, SIGHUP, restarts) it as well, and a SIGHUP during a restart is queued.
 * The sockets can themselves be inherited (socket activation).
 *
 * On Deno it needs `--allow-all` (a held socket's fd is found through /proc).
 *
 * @module
 */
export type { ListenSpec, RunOptions } from "./args.ts";
export { parseRunArgs, USAGE, VERSION } from "./args.ts";
export { run } from "./run.ts";
export { main } from "./main.ts";
import { main } from "./main.ts";
import { os } from "../runtime/_internal.ts";

// Deno and Bun tell `import.meta.main` (false when a test runner loads this
// module); Node 20 does not, so there the entry script's path decides.
const isMain = (import.meta as { main?: boolean }).main ?? os.isMain(import.meta.url);
if (isMain) {
  main(os.args()).then((code) => os.exit(code), (err) => {
    console.error(`netkit: ${err instanceof Error ? err.message : String(err)}`);
    os.exit(1);
  });
}
