// Every module of the web UI parses as an ES module. One that does not takes the whole page down
// (the chat view imports it), yet the other unit tests import only the DOM-free modules and the
// browser tests are slow (and skipped without chromium): this says which file, at once.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { test } from "node:test";

const APP = fileURLToPath(new URL("../../../reliant/web/app/", import.meta.url));

// Parsed, never run (they need a DOM): vm.SourceTextModule compiles a module without linking it.
const PARSE_ALL = `
const fs = require("node:fs"), path = require("node:path"), vm = require("node:vm");
const failed = [];
let parsed = 0;
for (const name of fs.readdirSync(process.argv[1], { recursive: true })) {
  if (!name.endsWith(".js")) continue;
  const file = path.join(process.argv[1], name);
  try {
    new vm.SourceTextModule(fs.readFileSync(file, "utf8"), { identifier: file });
    parsed += 1;
  } catch (err) {
    failed.push(name + ": " + err.message);
  }
}
console.log(JSON.stringify({ parsed, failed }));
`;

test("every module of the web UI parses", () => {
  const done = spawnSync(process.execPath, ["--experimental-vm-modules", "--no-warnings", "-e", PARSE_ALL, APP], { encoding: "utf8" });
  assert.equal(done.status, 0, done.stderr);
  const { parsed, failed } = JSON.parse(done.stdout);
  assert.deepEqual(failed, []);
  assert.ok(parsed > 20, `only ${parsed} modules found under ${APP}`);
});
