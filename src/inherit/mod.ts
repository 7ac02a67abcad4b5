/**
 * Socket inheritance, socket activation and zero-downtime restarts, the same
 * on Deno, Bun and Node: gracenet (facebookgo/grace) and tableflip
 * (cloudflare/tableflip) for JavaScript, speaking systemd's protocol.
 *
 * - {@linkcode Net} hands out listeners: the one inherited from the parent or
 *   from systemd when the address matches (`LISTEN_FDS`, `LISTEN_PID`,
 *   `LISTEN_FDNAMES`, read once and unset), else a fresh one; and
 *   `startProcess()` starts a new copy of the program with every open
 *   listener passed from fd 3.
 * - {@linkcode createUpgrader} adds what gracenet lacks: the successor says
 *   `ready()` before the old process lets go (`exit`), and a successor that
 *   crashes or hangs is killed while the old one goes on serving.
 * - {@linkcode notify} speaks sd_notify (`READY=1`, `RELOADING=1`, …).
 * - The `netkit run` command (`@netkit/netkit/cli`) holds the sockets for any
 *   program that speaks socket activation, in any language, and restarts it
 *   on SIGHUP without dropping a connection.
 *
 * How a restart works: the old process passes its listening sockets to the
 * new one (through `node:child_process`, which is the one API that passes
 * fds on all three runtimes; `Deno.Command` cannot). Both share one kernel
 * accept queue, so no connection is refused or reset while they swap: the
 * old one serves until the new one is ready, then stops accepting and drains.
 *
 * Permissions on Deno: `--allow-env` (the variables), `--allow-run` (the
 * successor, started through `/bin/sh` to set `LISTEN_PID`), `--allow-net`
 * (fresh listeners). No /proc access is needed: listeners that may be passed
 * are made with Deno's node:net, whose fd Deno duplicates on request. With
 * `--allow-all` the successor gets this process's exact command line (from
 * /proc); otherwise Deno's flags are rebuilt from the permissions granted in
 * full, so pass `process.args` when the program needs scoped permissions.
 *
 * @example A server that restarts itself on SIGHUP with no dropped connection
 * ```ts ignore
 * import process from "node:process";
 * import { createUpgrader } from "@netkit/netkit/inherit";
 *
 * const upgrader = createUpgrader();
 * upgrader.handleSignals();
 * const listener = await upgrader.listen({ hostname: "127.0.0.1", port: 8080 });
 * const conns = new Set<Promise<void>>();
 * const serving = (async () => {
 *   for await (const conn of listener) {
 *     const done = (async () => {
 *       await conn.write(new TextEncoder().encode(`hello from ${process.pid}\n`));
 *       conn.close();
 *     })();
 *     conns.add(done);
 *     done.finally(() => conns.delete(done));
 *   }
 * })();
 * await upgrader.ready();
 * await upgrader.exit; // the successor serves now
 * await listener.close(); // stop accepting
 * await serving;
 * await Promise.all(conns); // drain
 * ```
 *
 * @module
 */
export { ENV_NAMES, Net } from "./net.ts";
export type { InheritedListener, NetListenOptions, StartProcessOptions } from "./net.ts";
export { createUpgrader, Upgrader } from "./upgrader.ts";
export type { UpgradeOptions, UpgraderOptions, UpgradeSignalsOptions } from "./upgrader.ts";
export { notify } from "./notify.ts";
export type { NotifyState } from "./notify.ts";
export { InheritanceError, NotifyError, NotInheritedError, UpgradeError } from "./errors.ts";
export type { UpgradeFailure } from "./errors.ts";
