// The Worktree tab: a git worktree for the open chat (a new branch under the project's
// .reliant/worktrees/, where the chat's tools then run), its status and its diff against the
// commit it started from, shown per file like an edit tool card's diff; remove it, or keep it
// (the checkout and branch stay, the chat's tools go back to the project). A project that cannot
// have worktrees (not a git repository, or one without a commit) is told so, with `git init`.

import { append, clear, h } from "../dom.js";
import { ago } from "../format.js";
import { diffView } from "../tools.js";
import { askOptions } from "./dialogs.js";
import { hunksOf, splitDiff } from "./diff.js";

const OPEN_LINES = 400; // a file's diff starts closed past this many lines

const CHANGE = { M: "modified", A: "added", D: "deleted", R: "renamed", C: "copied", U: "conflict", "?": "new" };

function changeOf(file) {
  const letter = (file.worktree && file.worktree !== " " ? file.worktree : file.index || "").trim();
  return CHANGE[letter] || letter || "changed";
}

export class WorktreeTab {
  constructor(panel, section) {
    this.panel = panel;
    this.app = panel.app;
    this.api = panel.api;
    this.section = section;
    this.context = null;
    this.visible = false;
    this.token = 0;
    this.root = h("div.wt");
    section.append(this.root);
  }

  setContext(context, changed) {
    this.context = context;
    if (this.visible && (changed.project || changed.chat)) this.render();
  }

  show() {
    this.visible = true;
    this.render();
  }

  hide() {
    this.visible = false;
  }

  destroy() {}

  async render() {
    if (!this.context) return;
    const token = ++this.token;
    let repo = null;
    let left = null;
    try {
      const orphans = this.api.listOrphanedWorktrees(this.context.projectId).catch((err) => ({ orphaned: [], problem: err.message }));
      [repo, , left] = await Promise.all([this.api.getRepository(this.context.projectId), this.panel.refreshWorktrees(), orphans]);
    } catch (err) {
      if (token !== this.token) return;
      this.root.replaceChildren(h("p.error", { role: "alert" }, `Could not ask the daemon about the project's repository: ${err.message}`));
      return;
    }
    if (token !== this.token) return;
    if (!repo.git || !repo.commits) {
      this.root.replaceChildren(this.noRepository(repo));
      return;
    }
    const own = this.panel.chatWorktree();
    const others = this.panel.worktrees.filter((w) => w !== own);
    const parts = [];
    if (this.context.chatId) {
      parts.push(own ? this.details(own, { own: true }) : this.createForm());
    } else {
      parts.push(h("p.hint", null, "Open a chat to give it a worktree of its own: its tools then run on a new branch, apart from the project's checkout."));
    }
    if (others.length) {
      parts.push(
        h("h3.wt-others-head", null, this.context.chatId ? "Other worktrees of this project" : "Worktrees of this project"),
        h("ul.wt-others", null, ...others.map((w) => h("li", null, this.details(w, { own: false })))),
      );
    }
    if (left.orphaned.length || left.problem) parts.push(this.orphaned(left));
    this.root.replaceChildren(...parts);
  }

  /** Worktrees under .reliant/worktrees that no chat or agent names any more (a deleted chat's
   * agents' left them): shown so the work in them is neither lost unseen nor kept for ever. */
  orphaned({ orphaned, problem }) {
    const items = orphaned.map((o) => {
      const changes = o.uncommitted ? `${o.uncommitted} uncommitted file${o.uncommitted === 1 ? "" : "s"}` : "no uncommitted changes";
      const remove = (opts) => this.api.removeOrphanedWorktree(this.context.projectId, o.path, opts);
      return h(
        "li.wt-orphan",
        { dataset: { path: o.path } },
        h("code", null, o.name), ` · ${o.branch || "no branch"} · ${changes} `,
        h("button.small.danger", { type: "button", title: `Remove ${o.path}`, onclick: () => this.remove({ ...o, id: "" }, remove) }, "Remove…"),
      );
    });
    return h(
      "section.wt-orphans",
      { "aria-label": "Worktrees no chat names" },
      h("h3", null, "Worktrees no chat or agent names any more"),
      h("p.hint", null, "Left under .reliant/worktrees/ by a deleted chat or its agents."),
      problem ? h("p.error", { role: "alert" }, problem) : null,
      h("ul", null, ...items),
    );
  }

  /** Worktrees need a git repository of the project's own, with a commit: said in words, with
   * what to do (the daemon runs `git init`, and the first commit, on request). */
  noRepository(repo) {
    const path = this.context.project.path;
    const inside = repo.root && !repo.git;
    const error = h("p.form-error", { role: "alert" });
    const commit = h("input", { type: "checkbox", checked: true });
    const button = h("button.primary.wt-init", { type: "button" }, repo.git ? "Commit the project's files" : "Initialize a git repository");
    button.addEventListener("click", async () => {
      button.disabled = true;
      error.textContent = "";
      try {
        const made = await this.api.initRepository(this.context.projectId, repo.git || commit.checked);
        const who = made.identity && made.identity !== "yours" ? ` (committed as ${made.identity})` : "";
        this.app.notify(made.commits ? `Git repository ready on ${made.branch || "its first branch"}${who}` : "Git repository initialized");
        await this.render();
      } catch (err) {
        error.textContent = err.message;
        button.disabled = false;
      }
    });
    const title = inside ? "This project is inside another git repository" : repo.git ? "The repository has no commit yet" : "This project is not a git repository";
    const what = inside
      ? [h("p", null, repo.problem), h("p", null, "Add the repository's own directory, ", h("code", null, repo.root), ", as a project to give its chats worktrees.")]
      : [
          h("p", null, repo.problem, " A worktree gives a chat a branch and a directory of its own, so its changes stay apart from the project's checkout until you keep them."),
          repo.git
            ? h("p", null, "Commit the files that are there now (as .gitignore allows) as the first commit, and worktrees can start from it.")
            : h("p", null, "Run ", h("code", null, "git init"), " in ", h("code", null, path), " to start one:"),
          repo.git ? null : h("label.wp-check.wt-init-commit", null, commit, " and commit the current files as the first commit (worktrees start from a commit)"),
          h("div.form-actions", null, button),
        ];
    return h("section.wt-norepo", { "aria-label": title, dataset: { problem: inside ? "inside" : repo.git ? "no-commit" : "not-git" } }, h("h3", null, title), ...what, error);
  }

  createForm() {
    const name = h("input", { type: "text", name: "name", autocomplete: "off", spellcheck: "false", placeholder: `chat-${this.context.chatId.slice(0, 8)}` });
    const branch = h("input", { type: "text", name: "branch", autocomplete: "off", spellcheck: "false", placeholder: "reliant/<name>" });
    const error = h("p.form-error", { role: "alert" });
    const submit = h("button.primary", { type: "submit" }, "Create a worktree for this chat");
    return h(
      "form.wt-create",
      {
        "aria-label": "Create a worktree",
        onsubmit: async (e) => {
          e.preventDefault();
          submit.disabled = true;
          error.textContent = "";
          try {
            const made = await this.api.createWorktree(this.context.projectId, { chatId: this.context.chatId, name: name.value.trim(), branch: branch.value.trim() });
            this.app.notify(`Worktree ${made.name} created on ${made.branch}: this chat's tools run there now`);
            await this.panel.refreshWorktrees({ keepWhere: false });
            this.panel.notifyWhere();
            await this.render();
            const heading = this.root.querySelector(".wt-title");
            if (heading) heading.focus();
          } catch (err) {
            error.textContent = err.message;
            submit.disabled = false;
          }
        },
      },
      h("p", null, "This chat works in the project's own checkout. A worktree gives it a new branch and a directory of its own under ", h("code", null, ".reliant/worktrees/"), ": its tools and new terminals run there, and what it changed shows here as a diff."),
      h("div.wt-fields", null, h("label.field", null, "Name (optional)", name), h("label.field", null, "Branch (optional)", branch)),
      h("div.form-actions", null, submit),
      error,
    );
  }

  /** One worktree: what it is, its status and diff (loaded now for the chat's, on opening for others). */
  details(worktree, { own }) {
    const body = h("div.wt-body");
    const title = h("h3.wt-title", { tabindex: "-1" }, own ? "This chat's worktree" : worktree.name);
    const info = h(
      "dl.wt-info",
      null,
      h("dt", null, "Branch"),
      h("dd", null, h("code", null, worktree.branch)),
      h("dt", null, "Path"),
      h("dd", null, h("code", null, worktree.path)),
      h("dt", null, "From"),
      h("dd", null, h("code", { title: worktree.baseCommit }, (worktree.baseCommit || "").slice(0, 10)), worktree.createdUnix ? ` · created ${ago(Number(worktree.createdUnix))}` : ""),
    );
    const actions = h(
      "div.wt-actions",
      null,
      h("button.small", { type: "button", onclick: () => this.load(worktree, body) }, "Refresh"),
      own ? h("button.small", { type: "button", title: "Keep the checkout and its branch; this chat's tools go back to the project", onclick: () => this.keep(worktree) }, "Keep, and detach") : null,
      h("button.small.danger", { type: "button", onclick: () => this.remove(worktree) }, "Remove…"),
    );
    const box = h("section.wt-tree", { dataset: { worktreeId: worktree.id }, "aria-label": `Worktree ${worktree.name}` }, title, info, actions, body);
    if (own) {
      this.load(worktree, body);
      return box;
    }
    const more = h("details.wt-more", null, h("summary", null, `${worktree.name} · ${worktree.branch}${worktree.chatId ? " · another chat's" : ""}`), box);
    more.addEventListener("toggle", () => {
      if (more.open && !body.dataset.loaded) this.load(worktree, body);
    });
    return more;
  }

  async load(worktree, body) {
    body.dataset.loaded = "1";
    body.replaceChildren(h("p.wp-loading", null, "Reading git status and diff…"));
    let status;
    let diff;
    try {
      [status, diff] = await Promise.all([this.api.getWorktreeStatus(worktree.id), this.api.getWorktreeDiff(worktree.id)]);
    } catch (err) {
      body.replaceChildren(h("p.error", { role: "alert" }, `Could not read the worktree: ${err.message}`));
      return;
    }
    const files = status.files || [];
    const head = [`on ${status.branch || worktree.branch}`];
    if (status.ahead) head.push(`${status.ahead} commit${status.ahead === 1 ? "" : "s"} ahead`);
    if (status.behind) head.push(`${status.behind} behind`);
    head.push(files.length ? `${files.length} changed file${files.length === 1 ? "" : "s"}` : "no uncommitted changes");
    const pieces = splitDiff(diff.diff || "");
    const totals = pieces.reduce((t, f) => ({ added: t.added + f.added, removed: t.removed + f.removed }), { added: 0, removed: 0 });
    append(clear(body), [
      h("p.wt-status", { role: "status" }, head.join(" · ")),
      files.length
        ? h(
            "ul.wt-files",
            { "aria-label": "Changed files" },
            ...files.map((f) => h("li", null, h(`span.wt-change.wt-change-${changeOf(f)}`, null, changeOf(f)), " ", h("code", null, f.path))),
          )
        : null,
      pieces.length
        ? h("h4.wt-diff-head", null, `Diff against ${(worktree.baseCommit || "its base").slice(0, 10)}`, h("span.wt-diff-totals", null, ` +${totals.added} −${totals.removed}`))
        : h("p.hint", null, "No differences from the commit it started from."),
      ...pieces.map((file) => this.fileDiff(file)),
      diff.truncated ? h("p.hint", null, "The diff is cut short: it is too large to show whole.") : null,
    ]);
  }

  fileDiff(file) {
    const lines = file.added + file.removed;
    const text = hunksOf(file.text);
    return h(
      "details.wt-file",
      { open: lines <= OPEN_LINES, dataset: { path: file.path } },
      h("summary", null, h("code.wt-file-path", null, file.path), h(`span.wt-file-status.wt-change-${file.status}`, null, file.status), h("span.wt-file-stat", null, h("span.wt-add", null, `+${file.added}`), " ", h("span.wt-del", null, `−${file.removed}`))),
      text ? diffView(text) : h("p.hint", null, file.status === "binary" ? "Binary file changed." : "No line changes (mode or name only)."),
    );
  }

  async keep(worktree) {
    try {
      await this.api.detachWorktree(worktree.id);
      this.app.notify(`Kept ${worktree.name} on ${worktree.branch}; this chat's tools run in the project again`);
    } catch (err) {
      this.app.notify(`Could not detach the worktree: ${err.message}`, "error");
      return;
    }
    await this.panel.refreshWorktrees({ keepWhere: false });
    this.panel.notifyWhere();
    await this.render();
  }

  async remove(worktree, removeWith = (opts) => this.api.removeWorktree(worktree.id, opts)) {
    const choice = await askOptions({
      title: `Remove worktree ${worktree.name}?`,
      text: `Deletes the checkout at ${worktree.path}.`,
      options: [{ key: "deleteBranch", label: `Also delete the branch ${worktree.branch}` }],
      ok: "Remove",
      danger: true,
    });
    if (!choice) return;
    try {
      await removeWith({ deleteBranch: choice.deleteBranch });
    } catch (err) {
      if (err.code !== "failed_precondition") {
        this.app.notify(`Could not remove the worktree: ${err.message}`, "error");
        return;
      }
      const sure = await this.app.confirm({
        title: "It has changes that are not committed",
        text: `${err.message} Remove it anyway? Those changes are lost.`,
        ok: "Remove anyway",
      });
      if (!sure) return;
      try {
        await removeWith({ force: true, deleteBranch: choice.deleteBranch });
      } catch (again) {
        this.app.notify(`Could not remove the worktree: ${again.message}`, "error");
        return;
      }
    }
    this.app.notify(`Removed worktree ${worktree.name}`);
    await this.panel.refreshWorktrees({ keepWhere: false });
    this.panel.notifyWhere();
    await this.render();
  }
}
