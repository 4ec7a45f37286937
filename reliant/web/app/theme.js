// Light and dark themes: follow the system unless the user picked one (kept in localStorage). The
// top bar's Theme button says which is in force and opens a menu of the three choices.

import { h } from "./dom.js";
import { icon } from "./icons.js";

export const THEMES = [
  { mode: "system", label: "System", help: "Follow the system's light or dark setting", icon: "monitor" },
  { mode: "light", label: "Light", help: "Always light", icon: "sun" },
  { mode: "dark", label: "Dark", help: "Always dark", icon: "moon" },
];
const KEY = "reliant.theme";

export class ThemeToggle {
  /** @param {HTMLButtonElement} button  the top bar's theme button; the menu is placed after it */
  constructor(button) {
    this.button = button;
    this.mode = this.saved();
    button.setAttribute("aria-haspopup", "menu");
    button.setAttribute("aria-expanded", "false");
    this.items = THEMES.map((t) =>
      h(
        "button.theme-choice",
        { type: "button", role: "menuitemradio", dataset: { mode: t.mode }, title: t.help, onclick: () => this.choose(t.mode) },
        icon(t.icon),
        h("span", null, t.label),
      ),
    );
    this.menu = h("div.theme-menu", { role: "menu", "aria-label": "Theme", hidden: true }, ...this.items);
    button.after(this.menu);
    button.addEventListener("click", () => (this.menu.hidden ? this.open() : this.close()));
    this.menu.addEventListener("keydown", (event) => this.onMenuKey(event));
    this.onOutside = (event) => {
      if (!this.menu.contains(event.target) && !this.button.contains(event.target)) this.close();
    };
    this.apply();
  }

  saved() {
    try {
      const value = localStorage.getItem(KEY);
      return value === "light" || value === "dark" ? value : "system";
    } catch {
      return "system";
    }
  }

  choose(mode) {
    this.mode = mode;
    try {
      if (mode === "system") localStorage.removeItem(KEY);
      else localStorage.setItem(KEY, mode);
    } catch {
      // storage blocked: the choice lasts for this page
    }
    this.apply();
    this.close();
    this.button.focus();
  }

  open() {
    this.menu.hidden = false;
    this.button.setAttribute("aria-expanded", "true");
    document.addEventListener("click", this.onOutside, true);
    const current = this.items.find((b) => b.dataset.mode === this.mode);
    if (current) current.focus();
  }

  close() {
    if (this.menu.hidden) return;
    this.menu.hidden = true;
    this.button.setAttribute("aria-expanded", "false");
    document.removeEventListener("click", this.onOutside, true);
  }

  onMenuKey(event) {
    const at = this.items.indexOf(document.activeElement);
    let next = null;
    if (event.key === "ArrowDown") next = this.items[(at + 1) % this.items.length];
    else if (event.key === "ArrowUp") next = this.items[(at - 1 + this.items.length) % this.items.length];
    else if (event.key === "Escape") {
      event.preventDefault();
      this.close();
      this.button.focus();
      return;
    }
    if (next) {
      event.preventDefault();
      next.focus();
    }
  }

  apply() {
    const root = document.documentElement;
    if (this.mode === "system") delete root.dataset.theme;
    else root.dataset.theme = this.mode;
    const theme = THEMES.find((t) => t.mode === this.mode);
    this.button.replaceChildren(icon(theme.icon, 18), h("span.theme-label", null, `${theme.label} theme`));
    this.button.setAttribute("aria-label", `Theme: ${theme.label}. Choose light, dark or the system's`);
    this.button.title = `Theme: ${theme.help.toLowerCase()}`;
    for (const item of this.items) item.setAttribute("aria-checked", String(item.dataset.mode === this.mode));
  }
}
