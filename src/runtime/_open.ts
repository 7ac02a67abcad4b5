// Internal: the listen() and connect() steps the Deno and Bun adapters share
// (validation, TLS, an fd served by node:net, errors named after the address,
// giving up on a signal); the adapter supplies only the native call.
// Only src/runtime/ may import this file.
import { abortable } from "../_util/abort.ts";
import { checkBacklog } from "./_base_listener.ts";
import { mapError } from "./_map_error.ts";
import { listenNodeNet } from "./_node_net.ts";
import { connectTls } from "./_tls.ts";
import { validateConnect, validateListen } from "./_validate.ts";
import type {
  Conn,
  ConnectOptions,
  Listener,
  ListenOptions,
  TcpListenOptions,
  UnixListenOptions,
} from "./types.ts";

/** What `listen` was asked to bind, for error messages. */
export function listenTarget(options: TcpListenOptions | UnixListenOptions): string {
  return "path" in options ? options.path : `${options.hostname ?? "0.0.0.0"}:${options.port ?? 0}`;
}

/** What `connect` was asked to reach, for error messages. */
export function connectTarget(options: ConnectOptions): string {
  return "path" in options ? options.path : `${options.hostname ?? "127.0.0.1"}:${options.port}`;
}

/**
 * listen() of a runtime with its own listener: `tls` serves TLS options, an
 * fd goes to node:net (neither Deno.listen nor Bun.listen can tell its
 * address), and `open` binds a TCP or Unix address with the validated
 * backlog; what it throws is mapped to netkit's errors.
 */
export async function listenWith(
  options: ListenOptions,
  tls: (options: ListenOptions) => Listener | Promise<Listener>,
  open: (options: TcpListenOptions | UnixListenOptions, backlog: number) => Listener,
): Promise<Listener> {
  validateListen(options);
  if (options.tls !== undefined) return await tls(options);
  const backlog = checkBacklog(options.backlog);
  if ("fd" in options) return await listenNodeNet(options);
  try {
    return open(options, backlog);
  } catch (err) {
    throw mapError(err, `listen on ${listenTarget(options)}`);
  }
}

/**
 * connect() of a runtime with its own client sockets: TLS through node:tls,
 * `dial` for the rest; its rejection is mapped to netkit's errors, and an
 * abort of `options.signal` closes whatever it opens late.
 */
export async function connectWith(
  options: ConnectOptions,
  dial: (options: ConnectOptions) => Promise<Conn>,
): Promise<Conn> {
  validateConnect(options);
  if (options.tls !== undefined) return await connectTls(options);
  options.signal?.throwIfAborted();
  const pending = dial(options).catch((err) => {
    throw mapError(err, `connect to ${connectTarget(options)}`);
  });
  return await abortable(pending, options.signal);
}
