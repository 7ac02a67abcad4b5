// netkit's own `deno lint` rules (registered in deno.json `lint.plugins`, so
// plain `deno lint` runs them). They hold the layering of src/ (issue #13):
//
// - netkit/runtime-only: `Deno` and `Bun` identifiers (type references too) and
//   `node:*` specifiers (imports, re-exports, `import()`, `import("x")` types,
//   `require()`) only in src/runtime/. Comments and strings are not code.
// - netkit/layering: what a file in src/ may import.
//     src/_util/      only src/_util/ (the runtime-free tier).
//     src/runtime/    only src/runtime/ and src/_util/.
//     src/cli/        its own files, any module's entries (mod.ts, _internal.ts),
//                     the runtime entries (mod.ts, _internal.ts), src/_util/.
//     src/<module>/   its own files, src/runtime/mod.ts, src/runtime/_internal.ts,
//                     src/_util/, and another module's entries: its public
//                     mod.ts (a module may stack on another's public API, as a
//                     user would: http on inherit) or its unpublished
//                     _internal.ts (what it shares with netkit's own modules
//                     only), never another module's inner files.
//   src/runtime/testing.ts (useRuntime, openResources) is for tests only: no
//   file in src/ outside src/runtime/ may import it.
// - netkit/error-message: std's error-message rule (deno_style_guide) for
//   `new XError("...")` in src/, with the project's `Cannot <action>: <detail>`
//   style: the message starts with a capital letter, does not end with a
//   period, has no sentence break (". ") inside and no contraction ("can't").
//   Template literals are checked on their literal parts.
//
// Only files under src/ are checked; tests, bench and scripts may use any
// runtime API. Paths are taken from the project root, the directory above
// this file's lint/ (the plugin's test copies this file into a temporary
// project and plants violations there).

/**
 * Imports that break netkit/layering today, each waiting on an issue #13 move.
 * A key ending in "/" covers every file below it.
 */
const KNOWN_LAYERING_EXCEPTIONS: Record<string, string[]> = {};

/** Whether `from` importing `target` is a listed exception. */
function knownException(from: string, target: string): boolean {
  return Object.entries(KNOWN_LAYERING_EXCEPTIONS).some(([key, targets]) =>
    (key.endsWith("/") ? from.startsWith(key) : from === key) && targets.includes(target)
  );
}

const STYLE_HINT = "netkit error messages read `Cannot <action>: <detail>` (STYLE.md, Errors)";
const LEADING_LOWERCASE = /^[a-z]/;
const TRAILING_PERIOD = /\.$/;
const INNER_PERIOD = /\.\s/;
/** Abbreviations whose period is not a sentence break. */
const ABBREVIATIONS = /\b(?:e\.g|i\.e|etc|vs)\./g;
const CONTRACTION = /[A-Za-z](?:n't|'re|'ll|'ve|'m)\b/;

type Node = Deno.lint.Node;

/** The project root: the directory above this plugin's lint/ (with a final slash). */
const ROOT = decodeURIComponent(new URL("../", import.meta.url).pathname);

/** The path from the project root (`src/...`), or undefined outside the project. */
function projectPath(filename: string): string | undefined {
  const path = filename.replaceAll("\\", "/");
  return path.startsWith(ROOT) ? path.slice(ROOT.length) : undefined;
}

/** `src/<dir>/` of a project path ("runtime", "_util", "cli", a module name). */
function topDir(path: string): string | undefined {
  const parts = path.split("/");
  return parts.length >= 3 && parts[0] === "src" ? parts[1] : undefined;
}

/** Resolves a relative specifier against a project path; undefined if not relative. */
function resolve(from: string, specifier: string): string | undefined {
  if (!specifier.startsWith("./") && !specifier.startsWith("../")) return undefined;
  const parts = from.split("/").slice(0, -1);
  for (const part of specifier.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") parts.pop();
    else parts.push(part);
  }
  return parts.join("/");
}

/** Why `from` may not import `target`, or undefined when it may. */
function layeringViolation(from: string, target: string): string | undefined {
  const own = topDir(from);
  if (own === undefined) return undefined;
  if (!target.startsWith("src/")) {
    return `${from} imports ${target}, outside src/`;
  }
  const dir = topDir(target);
  if (dir === own) return undefined;
  if (knownException(from, target)) return undefined;
  if (own === "_util") return `src/_util/ imports only src/_util/, not ${target}`;
  if (dir === "_util") return undefined;
  if (own === "runtime") {
    return `src/runtime/ imports only src/runtime/ and src/_util/, not ${target}`;
  }
  if (target === "src/runtime/testing.ts") {
    return `src/runtime/testing.ts is for tests only, not for ${from}`;
  }
  if (target === "src/runtime/mod.ts" || target === "src/runtime/_internal.ts") return undefined;
  if (
    dir !== undefined && dir !== "runtime" &&
    (target === `src/${dir}/mod.ts` || target === `src/${dir}/_internal.ts`)
  ) return undefined;
  return `src/${own}/ may import its own files, src/runtime/mod.ts, src/runtime/_internal.ts, ` +
    `src/_util/ and other modules' mod.ts or _internal.ts, not ${target}`;
}

/** The string value of a literal specifier node, if it is one. */
function literalString(node: Node | null | undefined): string | undefined {
  if (node?.type === "TSLiteralType") return literalString(node.literal);
  if (node?.type === "Literal" && typeof node.value === "string") return node.value;
  if (node?.type === "TemplateLiteral" && node.expressions.length === 0) {
    return node.quasis[0]?.cooked;
  }
  return undefined;
}

/** Calls `check` on every module specifier node of a file. */
function specifierVisitor(check: (source: Node, specifier: string) => void): Deno.lint.LintVisitor {
  const visit = (source: Node | null | undefined) => {
    const specifier = literalString(source);
    if (source && specifier !== undefined) check(source, specifier);
  };
  return {
    ImportDeclaration: (node) => visit(node.source),
    ExportAllDeclaration: (node) => visit(node.source),
    ExportNamedDeclaration: (node) => visit(node.source),
    ImportExpression: (node) => visit(node.source),
    TSImportType: (node) => visit(node.argument),
    CallExpression: (node) => {
      if (node.callee.type === "Identifier" && node.callee.name === "require") {
        visit(node.arguments[0]);
      }
    },
  };
}

const plugin: Deno.lint.Plugin = {
  name: "netkit",
  rules: {
    "runtime-only": {
      create(context) {
        const path = projectPath(context.filename);
        if (path === undefined || topDir(path) === undefined || topDir(path) === "runtime") {
          return {};
        }
        const hint = "Only src/runtime/ touches the runtime: add what you need to the adapter " +
          "layer and import it from src/runtime/mod.ts or src/runtime/_internal.ts";
        return {
          ...specifierVisitor((source, specifier) => {
            if (specifier.startsWith("node:")) {
              context.report({
                node: source,
                message: `\`${specifier}\` imported outside src/runtime/`,
                hint,
              });
            }
          }),
          Identifier(node) {
            if (node.name === "Deno" || node.name === "Bun") {
              context.report({ node, message: `\`${node.name}\` used outside src/runtime/`, hint });
            }
          },
        };
      },
    },
    "layering": {
      create(context) {
        const path = projectPath(context.filename);
        if (path === undefined || topDir(path) === undefined) return {};
        return specifierVisitor((source, specifier) => {
          const target = resolve(path, specifier);
          if (target === undefined) return;
          const why = layeringViolation(path, target);
          if (why !== undefined) {
            context.report({
              node: source,
              message: `Import across layers: ${why}`,
              hint: "See lint/netkit_plugin.ts for what each part of src/ may import",
            });
          }
        });
      },
    },
    "error-message": {
      create(context) {
        const path = projectPath(context.filename);
        if (path === undefined || topDir(path) === undefined) return {};
        return {
          NewExpression(node) {
            if (node.callee.type !== "Identifier" || !node.callee.name.endsWith("Error")) return;
            const argument = node.arguments[0];
            let first: string;
            let last: string;
            let parts: string[];
            if (argument?.type === "Literal" && typeof argument.value === "string") {
              first = last = argument.value;
              parts = [argument.value];
            } else if (argument?.type === "TemplateLiteral") {
              parts = argument.quasis.map((q) => q.cooked);
              first = parts[0] ?? "";
              last = parts.at(-1) ?? "";
            } else {
              return;
            }
            const report = (message: string) =>
              context.report({ node: argument, message, hint: STYLE_HINT });
            if (LEADING_LOWERCASE.test(first)) {
              report("Error message should start with a capital letter");
            }
            if (TRAILING_PERIOD.test(last)) report("Error message should not end with a period");
            if (parts.some((p) => INNER_PERIOD.test(p.replace(ABBREVIATIONS, "")))) {
              report("Error message should be one sentence (no period inside)");
            }
            if (parts.some((p) => CONTRACTION.test(p))) {
              report("Error message should not use contractions");
            }
          },
        };
      },
    },
  },
};

export default plugin;
