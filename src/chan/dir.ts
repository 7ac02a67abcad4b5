/**
 * The direction of a networked channel.
 *
 * @module
 */

/**
 * The direction of a networked channel, from the side that makes the call
 * (as in Go's netchan): the exporter's `export("prices", ch, Dir.Send)`
 * sends what is put into `ch`, and the importer's
 * `import("prices", ch, Dir.Recv, size)` receives it into its own `ch`. An
 * exporter's `Send` pairs with an importer's `Recv`, and the other way round.
 *
 * The values are the strings `"send"` and `"recv"`, so either spelling works.
 *
 * @example Pairing directions
 * ```ts
 * import { Dir } from "@netkit/netkit/chan";
 *
 * const exported: Dir = Dir.Send;
 * const imported: Dir = exported === Dir.Send ? Dir.Recv : Dir.Send;
 * console.log(exported, imported); // "send" "recv"
 * ```
 */
export const Dir: { readonly Send: "send"; readonly Recv: "recv" } = Object.freeze({
  Send: "send" as const,
  Recv: "recv" as const,
});

/** A direction: `"send"` ({@linkcode Dir.Send}) or `"recv"` ({@linkcode Dir.Recv}). */
export type Dir = typeof Dir[keyof typeof Dir];
