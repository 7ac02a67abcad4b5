/**
 * The error stream of an exporter or importer.
 *
 * @module
 */

/**
 * The errors an {@linkcode Exporter} or {@linkcode Importer} reports, as an
 * async iterable: protocol errors of peers, refused or failed values,
 * connections that broke. Reading it is optional: it buffers a bounded
 * number of errors and, when full, drops the oldest (counting them in
 * {@linkcode ErrorStream.dropped}); nothing ever waits for a reader. The
 * iteration ends once the exporter or importer is closed and the buffered
 * errors are read. Each error goes to one reader.
 *
 * @example Logging an exporter's errors
 * ```ts ignore
 * import { Exporter } from "@netkit/netkit/chan";
 *
 * const exporter = new Exporter();
 * (async () => {
 *   for await (const err of exporter.errors) console.error(err.name, err.message);
 * })();
 * ```
 */
export interface ErrorStream extends AsyncIterable<Error> {
  /** How many errors were dropped because the buffer was full. */
  readonly dropped: number;
  /** How many errors wait to be read. */
  readonly buffered: number;
}
