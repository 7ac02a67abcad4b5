// The README's examples are the files in examples/: each code block marked
// `<!-- file: examples/X -->` must be that file's content, and every file in
// examples/ must be shown. package_test.ts runs the files against the
// installed npm package on Node, Bun and Deno. Also keeps the two lines CI
// and new contributors rely on.
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "./_harness.ts";
import { repoRoot } from "./fixtures/inherit_helpers.ts";

const root = repoRoot();
const readme = readFileSync(join(root, "README.md"), "utf8");

/** Every `<!-- file: PATH -->` marker and the fenced block right after it. */
function markedBlocks(): { path: string; code: string }[] {
  const re = /<!-- file: (\S+) -->\n\n```[a-z]*\n([\s\S]*?)```\n/g;
  return [...readme.matchAll(re)].map((m) => ({ path: m[1], code: m[2] }));
}

test("README code blocks marked with a file are that file's content", () => {
  const blocks = markedBlocks();
  assert.ok(blocks.length >= 4, `only ${blocks.length} marked blocks`);
  const markers = readme.match(/^<!-- file: /gm)?.length ?? 0;
  assert.equal(markers, blocks.length, "a file marker is not followed by a code block");
  for (const { path, code } of blocks) {
    assert.equal(code, readFileSync(join(root, path), "utf8"), `${path} differs from the README`);
  }
});

test("README shows every file in examples/", () => {
  const shown = new Set(markedBlocks().map((b) => b.path));
  for (const name of readdirSync(join(root, "examples"))) {
    assert.ok(shown.has(`examples/${name}`), `examples/${name} is not in the README`);
  }
});

test("README keeps the install lines and the contributor command", () => {
  assert.match(readme, /^npm install netkit\b/m);
  assert.match(readme, /^bun add netkit\b/m);
  assert.match(readme, /^deno add jsr:@netkit\/netkit\b/m);
  assert.ok(readme.includes("npm ci --prefix scripts && npm test --prefix scripts"));
  assert.ok(readme.indexOf("## Quick starts") < readme.indexOf("## Contributing"));
});
