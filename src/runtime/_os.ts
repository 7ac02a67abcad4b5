// Internal, runtime adapter only: assembles the `os` object of mod.ts from the
// process, fd and notify parts. Runtime-free itself.
import { closeFd, fdIdentity, inspectFd, listenerFdForChild, writeFdAndClose } from "./_fd.ts";
import { listenNotify, notifyTransport, sendNotify } from "./_notify.ts";
import { setCloseOnExec } from "./_cloexec.ts";
import { stopAccepting } from "./_stop_accepting.ts";
import { holdListener } from "./_hold.ts";
import {
  currentDirectory,
  environment,
  exitProcess,
  fileId,
  getEnv,
  hostRuntime,
  isMainModule,
  killProcess,
  linkFile,
  onSignal,
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
import type { Listener, ListenOptions, Os, RuntimeName } from "./types.ts";

/** The {@linkcode Os} object; `listenPassable` depends on the adapter in use. */
export function createOs(listenPassable: (options: ListenOptions) => Promise<Listener>): Os {
  return {
    get runtime(): RuntimeName {
      return hostRuntime();
    },
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
    onSignal,
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
}
