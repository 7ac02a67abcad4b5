// The `netkit` command's entry function: reads the command line, runs.
import { parseRunArgs, type RunOptions, USAGE, VERSION } from "./args.ts";
import { run } from "./run.ts";

/**
 * The `netkit` command: `netkit run [options] -- COMMAND [ARGS...]`,
 * `netkit --version`, `netkit --help`.
 *
 * @param argv The arguments after the program's path.
 * @returns The exit code (2 for a usage error).
 *
 * @example
 * ```ts
 * import { main } from "@netkit/netkit/cli";
 *
 * console.log(await main(["--help"])); // prints the usage, 0
 * ```
 */
export async function main(argv: string[]): Promise<number> {
  if (argv.length === 0 || ["help", "--help", "-h"].includes(argv[0])) {
    console.log(USAGE);
    return argv.length === 0 ? 2 : 0;
  }
  if (["--version", "-V", "version"].includes(argv[0])) {
    console.log(`netkit ${VERSION}`);
    return 0;
  }
  if (argv[0] !== "run") {
    console.error(`netkit: unknown command ${argv[0]}\n${USAGE}`);
    return 2;
  }
  const runArgs = argv.slice(1);
  const end = runArgs.indexOf("--");
  const own = end === -1 ? runArgs : runArgs.slice(0, end);
  if (own.includes("--help") || own.includes("-h")) {
    console.log(USAGE);
    return 0;
  }
  let options: RunOptions;
  try {
    options = parseRunArgs(runArgs);
  } catch (err) {
    console.error(`netkit: ${(err as Error).message}\n(netkit run --help for the options)`);
    return 2;
  }
  return await run(options);
}
