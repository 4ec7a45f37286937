// Light and dark themes: follow the system unless the user picked one (kept in localStorage).

const ORDER = ["system", "light", "dark"];
const ICON = { system: "◐", light: "☀", dark: "☾" };
const KEY = "reliant.theme";

export class ThemeToggle {
  constructor(button) {
    this.button = button;
    this.mode = this.saved();
    this.apply();
    button.addEventListener("click", () => {
      this.mode = ORDER[(ORDER.indexOf(this.mode) + 1) % ORDER.length];
      try {
        if (this.mode === "system") localStorage.removeItem(KEY);
        else localStorage.setItem(KEY, this.mode);
      } catch {
        // storage blocked: the choice lasts for this page
      }
      this.apply();
    });
  }

  saved() {
    try {
      const value = localStorage.getItem(KEY);
      return value === "light" || value === "dark" ? value : "system";
    } catch {
      return "system";
    }
  }

  apply() {
    const root = document.documentElement;
    if (this.mode === "system") delete root.dataset.theme;
    else root.dataset.theme = this.mode;
    const next = ORDER[(ORDER.indexOf(this.mode) + 1) % ORDER.length];
    const label = this.mode === "system" ? "follow the system" : this.mode;
    this.button.textContent = ICON[this.mode];
    this.button.setAttribute("aria-label", `Theme: ${label}. Switch to ${next === "system" ? "the system's" : next}`);
    this.button.title = `Theme: ${label}`;
  }
}
