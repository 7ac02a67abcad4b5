// Internal, runtime adapter only: Node built-ins loaded on first use, through
// process.getBuiltinModule (Node >= 20.16, Deno 2, Bun), so that importing a
// runtime file evaluates no `node:` module on Deno or Bun until a path that
// needs it runs. Type-only imports: nothing of them is loaded at module load.
import type * as Buffer from "node:buffer";
import type * as ChildProcess from "node:child_process";
import type * as Fs from "node:fs";
import type * as Http from "node:http";
import type * as Net from "node:net";
import type * as Os from "node:os";
import type * as Path from "node:path";
import type process from "node:process";
import type * as Stream from "node:stream";
import type * as Tls from "node:tls";
import type * as Url from "node:url";

/** The built-ins {@linkcode builtin} loads, by id. */
export interface Builtins {
  "node:buffer": typeof Buffer;
  "node:child_process": typeof ChildProcess;
  "node:fs": typeof Fs;
  "node:http": typeof Http;
  "node:net": typeof Net;
  "node:os": typeof Os;
  "node:path": typeof Path;
  "node:process": typeof process;
  "node:stream": typeof Stream;
  "node:tls": typeof Tls;
  "node:url": typeof Url;
}

type Loader = { getBuiltinModule?: (id: string) => unknown };

const loaded = new Map<string, unknown>();

/** The built-in `id` (e.g. `builtin("node:fs").readFileSync`), loaded on the first call. */
export function builtin<K extends keyof Builtins>(id: K): Builtins[K] {
  let m = loaded.get(id);
  if (m === undefined) {
    m = (globalThis as { process?: Loader }).process?.getBuiltinModule?.(id);
    if (m === undefined) {
      throw new Error(`Cannot load ${id}: this runtime has no process.getBuiltinModule`);
    }
    loaded.set(id, m);
  }
  return m as Builtins[K];
}
