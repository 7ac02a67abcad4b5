// Internal, runtime adapter only: the `os` object of _internal.ts, assembled
// from the process, fd and notify parts. Runtime-free itself.
import { closeFd, fdIdentity, inspectFd, listenerFdForChild, writeFdAndClose } from "./_fd.ts";
import { listenNotify, notifyTransport, sendNotify } from "./_notify.ts";
import { setCloseOnExec } from "./_fcntl.ts";
import { stopAccepting } from "./_stop_accepting.ts";
import { holdListener } from "./_hold.ts";
import { listenNodeNet } from "./_node_net.ts";
import { adapter } from "./_select.ts";
import { HOST } from "./_host.ts";
import { validateListen } from "./_validate.ts";
import {
  currentDirectory,
  environment,
  exitProcess,
  fileId,
  getEnv,
  isMainModule,
  killProcess,
  linkFile,
  parentProcessId,
  processId,
  readTextFile,
  removeFile,
  scriptArgs,
  selfCommand,
  spawnProcess,
  unsetEnv,
  writeFileAtomic,
} from "./_process.ts";
import type { Listener, ListenOptions, Os } from "./types.ts";

/**
 * Listens so that the listener's fd can be passed to a child. Deno.listen
 * hides its fd (only /proc, which needs --allow-all, tells it); Deno's
 * node:net hands out a dup of it, so passable listeners use node:net there.
 */
function listenPassable(options: ListenOptions): Promise<Listener> {
  if (adapter().name !== "deno" || options.tls !== undefined) return adapter().listen(options);
  validateListen(options);
  return listenNodeNet(options);
}

/**
 * The process and OS services that socket inheritance needs (spawn with fds,
 * environment, the command line of this program, fds, sd_notify), the same on
 * Deno, Bun and Node. For netkit's own modules and test fixtures.
 */
export const os: Os = {
  runtime: HOST,
  get pid(): number {
    return processId();
  },
  get ppid(): number {
    return parentProcessId();
  },
  cwd: currentDirectory,
  getEnv,
  unsetEnv,
  env: environment,
  selfCommand,
  args: scriptArgs,
  isMain: isMainModule,
  exit: exitProcess,
  kill: killProcess,
  spawn: spawnProcess,
  writeFileAtomic,
  removeFile,
  linkFile,
  fileId,
  readTextFile,
  closeFd,
  writeFdAndClose,
  listenerFd: listenerFdForChild,
  inspectFd,
  fdId: fdIdentity,
  setCloseOnExec,
  listenPassable,
  stopAccepting,
  holdListener,
  notifyTransport,
  sendNotify,
  listenNotify,
};
