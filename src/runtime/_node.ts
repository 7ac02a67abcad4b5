// Internal, runtime adapter only: Node built-ins loaded on first use, through
// process.getBuiltinModule (Node >= 20.16, Deno 2, Bun), so that importing a
// runtime file evaluates no `node:` module on Deno or Bun until a path that
// needs it runs. Type-only imports: nothing of them is loaded at module load.
import type * as ChildProcess from "node:child_process";
import type * as Buffer from "node:buffer";
import type * as Fs from "node:fs";
import type * as Http from "node:http";
import type * as Net from "node:net";
import type * as NodeOs from "node:os";
import type * as Path from "node:path";
import type process from "node:process";
import type * as Stream from "node:stream";
import type * as Tls from "node:tls";
import type * as Url from "node:url";

type Loader = { getBuiltinModule?: (id: string) => unknown };

const loaded = new Map<string, unknown>();

function load<T>(id: string): T {
  let m = loaded.get(id);
  if (m === undefined) {
    const p = (globalThis as { process?: Loader }).process;
    m = p?.getBuiltinModule?.(id);
    if (m === undefined) {
      throw new Error(`Cannot load ${id}: this runtime has no process.getBuiltinModule`);
    }
    loaded.set(id, m);
  }
  return m as T;
}

/** `node:child_process`. */
export function childProcess(): typeof ChildProcess {
  return load("node:child_process");
}

/** `node:fs`. */
export function fs(): typeof Fs {
  return load("node:fs");
}

/** `node:net`. */
export function net(): typeof Net {
  return load("node:net");
}

/** `node:os`. */
export function nodeOs(): typeof NodeOs {
  return load("node:os");
}

/** `node:path`. */
export function path(): typeof Path {
  return load("node:path");
}

/** `node:process`. */
export function nodeProcess(): typeof process {
  return load("node:process");
}

/** `node:url`. */
export function url(): typeof Url {
  return load("node:url");
}

/** `node:buffer`. */
export function buffer(): typeof Buffer {
  return load("node:buffer");
}

/** `node:http`. */
export function http(): typeof Http {
  return load("node:http");
}

/** `node:stream`. */
export function stream(): typeof Stream {
  return load("node:stream");
}

/** `node:tls`. */
export function tls(): typeof Tls {
  return load("node:tls");
}
