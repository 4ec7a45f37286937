// The workspace panel's logic: offset streams across breaks (terminal and process output), bytes
// on the wire, paths, diffs split per file, indentation, and when port links are offered.
import assert from "node:assert/strict";
import { test } from "node:test";

import { ConnectError } from "../../../reliant/web/app/connect.js";
import { fromBase64, latin1, pieces, size, toBase64, utf8 } from "../../../reliant/web/app/panels/bytes.js";
import { hunksOf, splitDiff } from "../../../reliant/web/app/panels/diff.js";
import { contextOf } from "../../../reliant/web/app/panels/dock.js";
import { indentOf } from "../../../reliant/web/app/panels/indent.js";
import { ancestors, basename, join, languageOf, parent, resolveTyped } from "../../../reliant/web/app/panels/paths.js";
import { portsAreLocal } from "../../../reliant/web/app/panels/processes.js";
import { OffsetStream } from "../../../reliant/web/app/panels/stream.js";

const b64 = (text) => Buffer.from(text).toString("base64");
const text = (bytes) => Buffer.from(bytes).toString();

/** An OffsetStream over scripted connections; resolves when it ends, fails or `until(state)`. */
function follow(connections, { offset = null, isEnd = (m) => Boolean(m.closed), until = null, visibility = undefined } = {}) {
  const opened = [];
  const shown = [];
  const states = [];
  const messages = [];
  let ended = null;
  let finish;
  const done = new Promise((resolve) => (finish = resolve));
  const stream = new OffsetStream(
    {
      open: async (from, signal) => {
        opened.push(from);
        const script = connections.shift();
        if (script instanceof Error) throw script;
        return (async function* () {
          for (const step of script || []) {
            if (step instanceof Error) throw step;
            if (step === "hang") {
              await new Promise((_, reject) => signal.addEventListener("abort", () => reject(new ConnectError("canceled", "aborted"))));
            }
            yield step;
          }
        })();
      },
      isEnd,
      onData: (bytes, at) => shown.push([at, text(bytes)]),
      onMessage: (m) => messages.push(m),
      onEnd: (m) => (ended = m),
      onState: (state) => {
        states.push(state);
        if (state === "ended" || state === "failed" || (until && until(state, states))) finish();
      },
      delay: () => 0,
      parkAfterMs: 20,
      visibility,
    },
    offset,
  );
  return { stream, opened, shown, states, messages, done, ended: () => ended };
}

test("an offset stream shows each byte once across reconnects, trimming what the server resends", async () => {
  const run = follow([
    [{ data: b64("hello "), offset: "100" }, new ConnectError("unavailable", "dropped")],
    [
      { data: b64("hello world"), offset: "100" }, // resent from an earlier offset: only "world" is new
      { keepalive: true, offset: "111" },
      { data: b64("!"), offset: "111" },
      { closed: true, exitCode: 3, reason: "exited" },
    ],
  ]);
  await run.done;
  assert.deepEqual(run.opened, [null, 106]); // the kept backlog first, then from the first byte not shown
  assert.deepEqual(run.shown, [[100, "hello "], [106, "world"], [111, "!"]]);
  assert.equal(run.ended().exitCode, 3);
  assert.deepEqual(run.states, ["connecting", "live", "reconnecting", "reconnecting", "live", "ended"]);
  assert.equal(run.stream.closed, true);
});

test("a stream in a hidden tab parks, then resumes from the next byte when the tab is shown", async () => {
  const page = new EventTarget();
  const show = (hidden) => {
    page.hidden = hidden;
    page.dispatchEvent(new Event("visibilitychange"));
  };
  show(false);
  const reached = {};
  const when = (state) => new Promise((resolve) => (reached[state] = resolve));
  const live = when("live");
  const parkedNow = when("parked");
  const run = follow([[{ data: b64("abc"), offset: "0" }, "hang"], [{ data: b64("d"), offset: "3" }, { closed: true }]], {
    visibility: page,
    until: (state) => {
      if (reached[state]) reached[state]();
      return false;
    },
  });
  await live;
  show(true);
  await parkedNow;
  await new Promise((r) => setTimeout(r, 30));
  assert.deepEqual(run.opened, [null], "no reconnect while hidden");
  show(false);
  await run.done;
  assert.deepEqual(run.opened, [null, 3]);
  assert.deepEqual(run.shown, [[0, "abc"], [3, "d"]]);
  assert.deepEqual(run.states, ["connecting", "live", "parked", "connecting", "live", "ended"]);
});

test("a keepalive sets where to resume when nothing was shown yet", async () => {
  const run = follow([[{ keepalive: true, offset: "42" }], [{ closed: true }]]);
  await run.done;
  assert.deepEqual(run.opened, [null, 42]);
});

test("a gap (output the server no longer keeps) is shown from where the data starts", async () => {
  const run = follow([[{ data: b64("abc"), offset: "10" }, { closed: true }]], { offset: 0 });
  await run.done;
  assert.deepEqual(run.shown, [[10, "abc"]]);
  assert.equal(run.stream.offset, 13);
});

test("fatal answers stop the stream; close() ends a hanging one", async () => {
  const gone = follow([new ConnectError("not_found", "no such terminal")]);
  await gone.done;
  assert.deepEqual(gone.states, ["connecting", "failed"]);
  assert.deepEqual(gone.opened, [null]);

  const hanging = follow([["hang"]], { until: (state) => state === "connecting" });
  await hanging.done;
  hanging.stream.close();
  await hanging.stream.done;
  assert.equal(hanging.states.at(-1), "closed");
  assert.equal(hanging.opened.length, 1);
});

test("a process stream ends with the record of a process that is no longer running", async () => {
  const run = follow(
    [[{ offset: "0", process: { id: "p-1", state: "running" } }, { data: b64("line\n"), offset: "0" }, { offset: "5", process: { id: "p-1", state: "killed" } }]],
    { offset: 0, isEnd: (m) => Boolean(m.process && m.process.state !== "running") },
  );
  await run.done;
  assert.deepEqual(run.shown, [[0, "line\n"]]);
  assert.equal(run.ended().process.state, "killed");
  assert.equal(run.messages.length, 3);
});

test("bytes: base64 both ways, UTF-8, latin1 and pieces of at most 64 KiB", () => {
  const all = new Uint8Array(256).map((_, i) => i);
  assert.deepEqual(fromBase64(toBase64(all)), all);
  assert.deepEqual(fromBase64("-_8"), new Uint8Array([0xfb, 0xff])); // URL-safe, unpadded
  assert.equal(fromBase64("").length, 0);
  const big = new Uint8Array(200_000).fill(7);
  assert.deepEqual(fromBase64(toBase64(big)), big);
  assert.deepEqual([...utf8("é")], [0xc3, 0xa9]);
  assert.deepEqual([...latin1("\x1b[M\xff")], [27, 91, 77, 255]);
  const parts = pieces(new Uint8Array(150_000));
  assert.deepEqual(parts.map((p) => p.length), [65536, 65536, 18928]);
  assert.deepEqual([size(0), size(999), size(12_345), size(4_000_000)], ["0 B", "999 B", "12 KB", "4.0 MB"]);
});

test("paths: join, parent, basename, ancestors, typed names and languages", () => {
  assert.equal(join(".", "a.py"), "a.py");
  assert.equal(join("src", "a.py"), "src/a.py");
  assert.equal(parent("src/a/b.py"), "src/a");
  assert.equal(parent("b.py"), ".");
  assert.equal(parent("."), ".");
  assert.equal(basename("src/a/b.py"), "b.py");
  assert.deepEqual(ancestors("a/b/c.txt"), ["a", "a/b"]);
  assert.equal(resolveTyped("src", " notes/todo.txt "), "src/notes/todo.txt");
  assert.equal(resolveTyped("src", "/top.txt"), "top.txt");
  assert.equal(resolveTyped("src", "./x//y"), "src/x/y");
  assert.equal(resolveTyped("src", "../out"), "src/../out"); // the daemon refuses it, and says why
  assert.equal(resolveTyped("src", "   "), "");
  assert.equal(languageOf("src/app.py"), "python");
  assert.equal(languageOf("Makefile"), "makefile");
  assert.equal(languageOf("web/index.HTML"), "xml");
  assert.equal(languageOf("LICENSE"), "");
  assert.equal(languageOf(".bashrc"), "bash");
});

test("a git diff is split per file with its counts and status", () => {
  const diff = [
    "diff --git a/README.md b/README.md",
    "index 1111111..2222222 100644",
    "--- a/README.md",
    "+++ b/README.md",
    "@@ -1,3 +1,3 @@",
    " # shop",
    "-old line",
    "+new line",
    "+another",
    "diff --git a/new.txt b/new.txt",
    "new file mode 100644",
    "index 0000000..ce01362",
    "--- /dev/null",
    "+++ b/new.txt",
    "@@ -0,0 +1 @@",
    "+hello",
    "diff --git a/gone.txt b/gone.txt",
    "deleted file mode 100644",
    "--- a/gone.txt",
    "+++ /dev/null",
    "@@ -1 +0,0 @@",
    "--- a line that starts with dashes",
    "diff --git a/logo.png b/logo.png",
    "index 1..2 100644",
    "Binary files a/logo.png and b/logo.png differ",
    "",
  ].join("\n");
  const files = splitDiff(diff);
  assert.deepEqual(
    files.map((f) => [f.path, f.status, f.added, f.removed]),
    [
      ["README.md", "modified", 2, 1],
      ["new.txt", "added", 1, 0],
      ["gone.txt", "deleted", 0, 1],
      ["logo.png", "binary", 0, 0],
    ],
  );
  assert.equal(hunksOf(files[0].text).split("\n")[0], "--- a/README.md");
  assert.equal(hunksOf(files[3].text), "");
  assert.deepEqual(splitDiff(""), []);
});

test("indentation follows the file", () => {
  assert.equal(indentOf("def f():\n\treturn 1\n"), "\t");
  assert.equal(indentOf("a:\n  b:\n    c: 1\n"), "  ");
  assert.equal(indentOf("def f():\n    return 1\n"), "    ");
  assert.equal(indentOf("no indentation\n"), "    ");
});

test("port links are offered only when the page and the daemon are on this machine", () => {
  const status = { roles: [{ role: "api", host: "box" }], daemons: [{ id: "d1", hostname: "box" }, { id: "d2", hostname: "other" }] };
  assert.equal(portsAreLocal(status, "d1", "127.0.0.1"), true);
  assert.equal(portsAreLocal(status, "d1", "localhost"), true);
  assert.equal(portsAreLocal(status, "d2", "127.0.0.1"), false); // the daemon is elsewhere
  assert.equal(portsAreLocal(status, "d1", "reliant.example.com"), false); // so is the browser
  assert.equal(portsAreLocal(null, "d1", "127.0.0.1"), false);
});

test("the dock knows which pages have a workspace", () => {
  assert.deepEqual(contextOf("/chats/abc"), { projectId: "", chatId: "abc" });
  assert.deepEqual(contextOf("/projects/p%201"), { projectId: "p 1", chatId: "" });
  assert.equal(contextOf("/settings"), null);
  assert.equal(contextOf("/"), null);
});
