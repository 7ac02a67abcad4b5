/**
 * The Standard Schema v1 interface (https://standardschema.dev), declared
 * here as types only, so that netkit validates with zod, valibot, arktype
 * or any other compliant library without depending on one.
 *
 * @module
 */

/**
 * A validator that implements Standard Schema v1 (zod ≥ 3.24, valibot ≥ 1,
 * arktype ≥ 2, …). netkit calls only `["~standard"].validate`.
 *
 * @typeParam Input The type the schema accepts.
 * @typeParam Output The type it produces (what reaches the channel).
 *
 * @example A hand-written schema
 * ```ts
 * import type { StandardSchemaV1 } from "@netkit/netkit/chan";
 *
 * const positive: StandardSchemaV1<unknown, number> = {
 *   "~standard": {
 *     version: 1,
 *     vendor: "example",
 *     validate: (value) =>
 *       typeof value === "number" && value > 0
 *         ? { value }
 *         : { issues: [{ message: "Expected a positive number" }] },
 *   },
 * };
 * console.log(positive["~standard"].validate(3)); // { value: 3 }
 * ```
 */
export interface StandardSchemaV1<Input = unknown, Output = Input> {
  /** The Standard Schema properties. */
  readonly "~standard": StandardSchemaV1Props<Input, Output>;
}

/**
 * The properties under `"~standard"`.
 *
 * @typeParam Input The type the schema accepts.
 * @typeParam Output The type it produces.
 */
export interface StandardSchemaV1Props<Input = unknown, Output = Input> {
  /** The version of the standard: 1. */
  readonly version: 1;
  /** The library that made the schema. */
  readonly vendor: string;
  /** Validates a value; may return a promise. */
  readonly validate: (
    value: unknown,
  ) => StandardSchemaV1Result<Output> | Promise<StandardSchemaV1Result<Output>>;
  /** Type information (types only). */
  readonly types?: { readonly input: Input; readonly output: Output } | undefined;
}

/**
 * What `validate` returns: the (possibly transformed) value, or issues.
 *
 * @typeParam Output The type the schema produces.
 */
export type StandardSchemaV1Result<Output> =
  | { readonly value: Output; readonly issues?: undefined }
  | { readonly issues: ReadonlyArray<StandardSchemaV1Issue> };

/** One validation issue. */
export interface StandardSchemaV1Issue {
  /** What is wrong. */
  readonly message: string;
  /** Where in the value. */
  readonly path?: ReadonlyArray<PropertyKey | { readonly key: PropertyKey }> | undefined;
}
