/**
 * Go-style channels: typed FIFO pipes between async tasks, with buffering,
 * backpressure, close, cancellation and `select`; and networked channels
 * (Go's netchan) that carry them between processes.
 *
 * - {@linkcode Channel} is Go's `chan T`: `send` and `receive` wait like Go's
 *   `ch <- v` and `<-ch`; capacity 0 (the default) is a rendezvous.
 * - {@linkcode select} is Go's `select` statement over several channels'
 *   sends and receives, with a random choice among the ready cases, a
 *   `default` option and an `AbortSignal`.
 * - {@linkcode ChannelClosedError} is what Go reports as a panic (send on a
 *   closed channel) or as `ok == false` (receive from a closed, drained
 *   channel).
 * - {@linkcode Exporter} publishes channels by name over the network and
 *   {@linkcode Importer} binds local channels to them, in either
 *   {@linkcode Dir}ection, with per-channel credit flow control, close
 *   propagation, `drain`/`sync`, `hangup`, pluggable codecs
 *   ({@linkcode Codec}) and Standard Schema validation. Values in flight to
 *   an importer that closes or hangs up go back to the exported channel
 *   (exactly once; at least once when a connection breaks). The wire
 *   protocol is in `docs/protocol.md`.
 *
 * @example A worker pool with a quit channel
 * ```ts
 * import { Channel, select } from "@netkit/netkit/chan";
 *
 * const jobs = new Channel<number>(10);
 * const results = new Channel<number>(10);
 *
 * async function worker(): Promise<void> {
 *   for await (const n of jobs) await results.send(n * n);
 * }
 * const workers = Promise.all([worker(), worker(), worker()]);
 *
 * for (let n = 1; n <= 5; n++) await jobs.send(n);
 * jobs.close();
 * await workers;
 * results.close();
 *
 * let sum = 0;
 * for await (const sq of results) sum += sq;
 * console.log(sum); // 55
 *
 * const quit = new Channel<void>();
 * quit.close();
 * const r = await select([{ receive: results }, { receive: quit }]);
 * console.log(r.ok); // false: both channels are closed
 * ```
 *
 * @module
 */
export { Channel } from "./channel.ts";
export type { ChannelWaitOptions, TryReceiveResult } from "./channel.ts";
export { select } from "./select.ts";
export type {
  CheckedCases,
  ReceiveCase,
  SelectCase,
  SelectCaseResult,
  SelectDefault,
  SelectOptions,
  SelectReceiveClosed,
  SelectReceived,
  SelectResult,
  SelectSent,
  SendCase,
} from "./select.ts";
export {
  ChannelClosedError,
  ChanProtocolError,
  ChanValueError,
  ImportRefusedError,
} from "./errors.ts";
export type {
  ChanProtocolErrorCode,
  ChanValueIssue,
  ChanValueStage,
  ImportRefusedCode,
} from "./errors.ts";
export { Dir } from "./dir.ts";
export { bytesCodec, jsonCodec } from "./codec.ts";
export type { Codec, CodecOption } from "./codec.ts";
export type {
  StandardSchemaV1,
  StandardSchemaV1Issue,
  StandardSchemaV1Props,
  StandardSchemaV1Result,
} from "./standard_schema.ts";
export type { ErrorStream } from "./error_stream.ts";
export type { ChannelOptions, ConnectionOptions, WaitOptions } from "./options.ts";
export { Exporter } from "./exporter.ts";
export type { ExporterOptions, ExporterStats } from "./exporter.ts";
export { Importer } from "./importer.ts";
export { ChanAuthError, tokenAuth } from "./auth.ts";
export type { Authenticate, ChanPeer } from "./auth.ts";
export type { ImporterConnectOptions, ImporterOptions, ImporterStats } from "./importer.ts";
// The runtime layer's errors that the networked channels throw.
export { ClosedError, TimeoutError } from "../runtime/mod.ts";
