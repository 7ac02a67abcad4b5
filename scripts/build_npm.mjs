// Builds the npm package into npm/ with tsc (JSR's dnt is not reachable here):
//   npm/esm/       compiled ESM + .d.ts for mod.ts, src/ and (not published) tests/
//   npm/bin/netkit.js the `netkit` command (shebang, runs src/cli/main.ts's main())
//   npm/docs/      the docs the README links to
//   npm/package.json generated from deno.json (exports map, version, engines)
// The npm name is `netkit`; JSR keeps `@netkit/netkit` (deno.json).
// Run from anywhere: node scripts/build_npm.mjs
import { execFileSync } from "node:child_process";
import {
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const out = join(root, "npm");
const deno = JSON.parse(readFileSync(join(root, "deno.json"), "utf8"));

rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });

const tsconfig = {
  compilerOptions: {
    target: "ES2022",
    module: "ESNext",
    moduleResolution: "Bundler",
    lib: ["ES2023", "DOM", "DOM.AsyncIterable", "ESNext.Disposable"],
    types: ["node"],
    typeRoots: [join(root, "scripts/node_modules/@types")],
    strict: true,
    declaration: true,
    isolatedDeclarations: true,
    verbatimModuleSyntax: true,
    rewriteRelativeImportExtensions: true,
    allowImportingTsExtensions: false,
    skipLibCheck: true,
    rootDir: root,
    outDir: join(out, "esm"),
    sourceMap: false,
    removeComments: false,
  },
  include: [
    join(root, "mod.ts"),
    join(root, "src/**/*.ts"),
    join(root, "tests/**/*.ts"),
    join(root, "bench/**/*.ts"),
    join(root, "scripts/**/*.ts"),
  ],
};
writeFileSync(join(out, "tsconfig.json"), JSON.stringify(tsconfig, null, 2));
const tsc = join(root, "scripts/node_modules/typescript/bin/tsc");
try {
  execFileSync(process.execPath, [tsc, "-p", join(out, "tsconfig.json")], { stdio: "inherit" });
} catch {
  console.error("build_npm: tsc failed");
  process.exit(1);
}

// tsc rewrites `.ts` specifiers in .js but leaves them in .d.ts (TypeScript#61037).
function walk(dir, fn) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, fn);
    else fn(p);
  }
}
walk(join(out, "esm"), (p) => {
  if (!p.endsWith(".d.ts")) return;
  const src = readFileSync(p, "utf8");
  const fixed = src.replace(/(from\s+["']|import\(["'])(\.{1,2}\/[^"']+)\.ts(["'])/g, "$1$2.js$3");
  if (fixed !== src) writeFileSync(p, fixed);
});

const exportsMap = {};
// moduleResolution node10 ignores `exports`: typesVersions maps each subpath to its .d.ts.
const typesVersions = { "*": {} };
for (const [key, target] of Object.entries(deno.exports)) {
  const base = "./esm/" + relative(root, join(root, target)).replace(/\.ts$/, "");
  exportsMap[key] = { types: `${base}.d.ts`, import: `${base}.js`, default: `${base}.js` };
  if (key !== ".") typesVersions["*"][key.slice(2)] = [`${base.slice(2)}.d.ts`];
}
exportsMap["./package.json"] = "./package.json";

// The CLI's version is a constant in src/cli/args.ts: it must match deno.json's.
const cliSource = readFileSync(join(root, "src/cli/args.ts"), "utf8");
const cliVersion = /export const VERSION: string = "([^"]+)";/.exec(cliSource)?.[1];
if (cliVersion !== deno.version) {
  console.error(
    `build_npm: VERSION in src/cli/args.ts (${cliVersion}) != deno.json ${deno.version}`,
  );
  process.exit(1);
}

mkdirSync(join(out, "bin"));
writeFileSync(
  join(out, "bin", "netkit.js"),
  `#!/usr/bin/env node
// The \`netkit\` command (npx netkit, bunx netkit): see esm/src/cli/main.js.
import { main } from "../esm/src/cli/main.js";

main(process.argv.slice(2)).then((code) => process.exit(code), (err) => {
  console.error(\`netkit: \${err instanceof Error ? err.message : String(err)}\`);
  process.exit(1);
});
`,
  { mode: 0o755 },
);

const repo = "https://github.com/netkit/netkit";
const pkg = {
  name: "netkit",
  version: deno.version,
  description:
    "Socket-level tools for JavaScript servers on Deno, Bun and Node: zero-downtime restarts, graceful drain, listen buffers, socket inheritance, readiness polling and networked channels.",
  keywords: [
    "socket",
    "graceful-shutdown",
    "zero-downtime",
    "restart",
    "socket-activation",
    "systemd",
    "listen-fds",
    "deno",
    "bun",
    "node",
    "net",
    "channels",
  ],
  homepage: `${repo}#readme`,
  repository: { type: "git", url: `git+${repo}.git` },
  bugs: { url: `${repo}/issues` },
  license: deno.license,
  type: "module",
  exports: exportsMap,
  main: exportsMap["."].import,
  types: exportsMap["."].types,
  typesVersions,
  bin: { netkit: "./bin/netkit.js" },
  files: ["esm/mod.js", "esm/mod.d.ts", "esm/src/", "bin/", "docs/", "README.md", "LICENSE"],
  // require(esm) of this ESM-only package needs Node 20.19 (or 22.12).
  engines: { node: "^20.19.0 || >=22.12.0" },
  publishConfig: { access: "public" },
  sideEffects: false,
  dependencies: {},
};
writeFileSync(join(out, "package.json"), JSON.stringify(pkg, null, 2) + "\n");
for (const f of ["README.md", "LICENSE"]) {
  if (existsSync(join(root, f))) cpSync(join(root, f), join(out, f));
}
mkdirSync(join(out, "docs"));
for (const f of readdirSync(join(root, "docs"))) {
  if (f.endsWith(".md")) cpSync(join(root, "docs", f), join(out, "docs", f));
}
console.log(`build_npm: wrote ${relative(root, out)}/ (${pkg.name}@${pkg.version})`);
