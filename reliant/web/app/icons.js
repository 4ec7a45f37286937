// Small line icons as inline SVG (no icon font, no emoji: they render the same everywhere).

const SVG = "http://www.w3.org/2000/svg";
const PATHS = {
  pencil: "M4 20h4L19 9l-4-4L4 16v4zM14 6l4 4",
  trash: "M4 7h16M10 11v6M14 11v6M6 7l1 13h10l1-13M9 7V4h6v3",
  // how a tool call ended (outcomes.js)
  check: "M5 12.5l4.5 4.5L19 7.5",
  x: "M6 6l12 12M18 6L6 18",
  lock: "M6 11h12v9H6zM8.5 11V8a3.5 3.5 0 0 1 7 0v3",
  clock: "M12 3a9 9 0 1 0 0 18a9 9 0 1 0 0-18zM12 7v5l3 2",
  bolt: "M13 3L5 14h6l-1 7 8-11h-6z",
  ban: "M12 3a9 9 0 1 0 0 18a9 9 0 1 0 0-18zM5.6 5.6l12.8 12.8",
  stop: "M7 7h10v10H7z",
  alert: "M12 4l9 16H3zM12 10v4M12 17v.5",
  circle: "M12 6a6 6 0 1 0 0 12a6 6 0 1 0 0-12z",
  dots: "M6 12h.5M12 12h.5M18 12h.5",
  // the shell
  menu: "M4 6h16M4 12h16M4 18h16",
  sun: "M12 8a4 4 0 1 0 0 8a4 4 0 1 0 0-8zM12 2v2M12 20v2M2 12h2M20 12h2M4.9 4.9l1.4 1.4M17.7 17.7l1.4 1.4M4.9 19.1l1.4-1.4M17.7 6.3l1.4-1.4",
  moon: "M20 14.5A8 8 0 1 1 9.5 4a6.5 6.5 0 0 0 10.5 10.5z",
  monitor: "M3 5h18v11H3zM8 20h8M12 16v4",
  folder: "M3 6h6l2 2h10v11H3z",
  up: "M12 19V5M6 11l6-6 6 6",
  send: "M4 12l16-8-6 16-2.5-6.5z",
};

export function icon(name, size = 16) {
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("width", String(size));
  svg.setAttribute("height", String(size));
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("class", `icon-svg icon-${name}`);
  const path = document.createElementNS(SVG, "path");
  path.setAttribute("d", PATHS[name] || PATHS.circle);
  svg.append(path);
  return svg;
}
