// Internal, runtime adapter only: the one libc loader. Bun reaches libc
// through bun:ffi with no flag; Deno through Deno.dlopen, only with
// --allow-ffi (or --allow-all); Node has no FFI. Symbols are declared in
// bun:ffi's notation; on Deno only functions of integers are loaded (Deno
// passes pointers as objects, which the callers here do not handle).
import { HOST } from "./_host.ts";

/** A C function's signature in bun:ffi's notation (`"i32"`, `"u32"`, `"ptr"`, …). */
export interface CFunction {
  readonly args: readonly string[];
  readonly returns: string;
}

/** bun:ffi's helpers for pointers, where the loader used bun:ffi. */
export interface BunPointers {
  /** The address of a typed array's bytes. */
  ptr(view: Uint8Array): number;
  /** Reads memory at an address. */
  read: { i32(ptr: number, offset?: number): number };
}

/** An open libc: its functions, Bun's pointer helpers (`null` on Deno), and `close()`. */
export interface Libc<T> {
  readonly symbols: T;
  readonly pointers: BunPointers | null;
  /** Releases the library (Deno counts it as a resource). */
  close(): void;
}

interface Library {
  symbols: unknown;
  close(): void;
}
interface BunFfi extends BunPointers {
  dlopen(path: string, symbols: Record<string, CFunction>): Library;
}
interface DenoFfiNs {
  dlopen(
    path: string,
    symbols: Record<string, { parameters: string[]; result: string }>,
  ): Library;
  permissions: { querySync(desc: { name: string }): { state: string } };
}

// musl calls it libc.so.
const NAMES = ["libc.so.6", "libc.so"];

function dlopenAny(open: (path: string) => Library): Library | null {
  for (const path of NAMES) {
    try {
      return open(path);
    } catch {
      // Try the next name.
    }
  }
  return null;
}

function bunFfi(): BunFfi | null {
  const req = (import.meta as { require?: (id: string) => unknown }).require;
  if (typeof req !== "function") return null;
  try {
    return req("bun:ffi") as BunFfi;
  } catch {
    return null;
  }
}

function denoFfi(): DenoFfiNs | null {
  const d = (globalThis as { Deno?: DenoFfiNs }).Deno;
  if (typeof d?.dlopen !== "function") return null;
  try {
    return d.permissions.querySync({ name: "ffi" }).state === "granted" ? d : null;
  } catch {
    return null;
  }
}

/**
 * Opens libc with `symbols`, or returns `null` where the runtime has no FFI
 * (Node; Deno without --allow-ffi), or libc or a symbol is not found.
 */
export function openLibc<T>(symbols: Record<string, CFunction>): Libc<T> | null {
  if (HOST === "bun") {
    const ffi = bunFfi();
    const lib = ffi === null ? null : dlopenAny((path) => ffi.dlopen(path, symbols));
    if (ffi === null || lib === null) return null;
    return { symbols: lib.symbols as T, pointers: ffi, close: () => lib.close() };
  }
  if (HOST === "deno") {
    const ffi = denoFfi();
    if (ffi === null) return null;
    const deno: Record<string, { parameters: string[]; result: string }> = {};
    for (const [name, fn] of Object.entries(symbols)) {
      deno[name] = { parameters: [...fn.args], result: fn.returns };
    }
    const lib = dlopenAny((path) => ffi.dlopen(path, deno));
    if (lib === null) return null;
    return { symbols: lib.symbols as T, pointers: null, close: () => lib.close() };
  }
  return null;
}
