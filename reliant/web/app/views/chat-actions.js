// Rename and delete, shared by the sidebar, the project page and the chat header.

import { h } from "../dom.js";
import { icon } from "../icons.js";

/** A chat's view (or one of its agents') learns its project: the crumbs name it (`redraw`), and the
 * sidebar lists the project's chats, this one current. Unreadable, the crumbs stay short. */
export async function showChatProject(view, projectId, redraw) {
  try {
    const project = await view.app.api.getProject(projectId);
    if (view.closed) return;
    view.project = project;
    redraw();
    await view.app.sidebar.show(project, view.chatId);
  } catch {
    // the view works without it
  }
}

/** The crumbs down to a chat's project (once known). */
export function projectCrumbs(project) {
  const items = [{ label: "Projects", href: "/" }];
  if (project) items.push({ label: project.name, href: `/projects/${project.id}` });
  return items;
}

export function statusPill(status) {
  const s = status || "idle";
  return h(`span.pill.pill-${s}`, { title: `status: ${s}` }, s);
}

/** How many approvals and questions of a chat wait for the user (nothing when none). */
export function gatesBadge(count) {
  const n = Number(count || 0);
  if (!n) return null;
  return h("span.badge.badge-waiting", { title: `${n} approval${n === 1 ? "" : "s"} or question${n === 1 ? "" : "s"} waiting for you`, "aria-label": `${n} waiting for you` }, `${n} waiting`);
}

/** A modal text prompt; resolves the entered text, or null when cancelled. */
export function promptText({ title, label, value = "", ok = "Save" }) {
  const input = h("input", { type: "text", value, "aria-label": label, maxlength: "200", required: true });
  const dialog = h(
    "dialog.prompt",
    { "aria-label": title },
    h(
      "form",
      { method: "dialog" },
      h("h2", null, title),
      h("label", null, label, input),
      h("div.confirm-actions", null, h("button.secondary", { type: "submit", value: "cancel", formnovalidate: true }, "Cancel"), h("button.primary", { type: "submit", value: "ok" }, ok)),
    ),
  );
  document.body.append(dialog);
  return new Promise((resolve) => {
    dialog.addEventListener(
      "close",
      () => {
        const result = dialog.returnValue === "ok" ? input.value.trim() : null;
        dialog.remove();
        resolve(result);
      },
      { once: true },
    );
    dialog.showModal();
    input.focus();
    input.select();
  });
}

export async function renameChat(app, chat) {
  const title = await promptText({ title: "Rename chat", label: "Title", value: chat.title || "" });
  if (title === null || title === (chat.title || "")) return null;
  try {
    const renamed = await app.api.renameChat(chat.id, title);
    app.sidebar.patch(chat.id, { title: renamed.title });
    return renamed;
  } catch (err) {
    app.notify(`Could not rename the chat: ${err.message}`, "error");
    return null;
  }
}

export async function deleteChat(app, chat) {
  const name = chat.title || "this chat";
  const ok = await app.confirm({
    title: "Delete chat?",
    text: `“${name}” and all its messages will be deleted. A running turn is stopped. This cannot be undone.`,
    ok: "Delete chat",
  });
  if (!ok) return false;
  try {
    await app.api.deleteChat(chat.id);
  } catch (err) {
    app.notify(`Could not delete the chat: ${err.message}`, "error");
    return false;
  }
  app.notify(`Deleted “${name}”`);
  await app.sidebar.refresh();
  return true;
}

export function chatActions(app, chat, { compact = false, onRenamed = null, onDeleted = null } = {}) {
  const name = chat.title || "New chat";
  const rename = h(
    `button.${compact ? "icon" : "secondary"}`,
    {
      type: "button",
      "aria-label": `Rename chat ${name}`,
      title: "Rename",
      onclick: async () => {
        const renamed = await renameChat(app, chat);
        if (renamed && onRenamed) onRenamed(renamed);
      },
    },
    compact ? icon("pencil") : "Rename",
  );
  const remove = h(
    `button.${compact ? "icon" : "secondary"}.delete`,
    {
      type: "button",
      "aria-label": `Delete chat ${name}`,
      title: "Delete",
      onclick: async () => {
        const deleted = await deleteChat(app, chat);
        if (deleted && onDeleted) onDeleted();
        else if (deleted && location.pathname === `/chats/${chat.id}`) app.navigate(`/projects/${chat.projectId}`, { replace: true });
      },
    },
    compact ? icon("trash") : "Delete",
  );
  return h("span.chat-actions", null, rename, remove);
}
