// xterm.js under this page's CSP (style-src 'self', no 'unsafe-inline'). xterm writes its theme,
// cell size and scrollbar colours into <style> elements it creates at run time, and gives cells
// with 24-bit colours a `style` attribute; the CSP refuses both (and says so on the console).
// Rather than weaken the CSP for the whole UI, the terminal panel installs this before it opens a
// terminal:
//
// - document.createElement("style") returns a stand-in: an inert element whose text goes into a
//   constructed stylesheet adopted by the document (CSP does not govern those), dropped again when
//   the element is removed (xterm removes its elements when a terminal is disposed);
// - setAttribute("style", …) on a <span> sets el.style.cssText, the same declarations through the
//   CSSOM, which CSP does not govern either.
//
// Markup parsed from text (a model's answer, a file) is untouched by both: its <style> elements
// and style attributes are still sanitized away or refused by the CSP.

let installed = false;

/** Makes `element` a stand-in for a <style>: its text lives in a constructed, adopted sheet. */
function backWithSheet(doc, element) {
  const sheet = new doc.defaultView.CSSStyleSheet();
  let text = "";
  doc.adoptedStyleSheets = [...doc.adoptedStyleSheets, sheet];
  const write = (value) => {
    text = value === null || value === undefined ? "" : String(value);
    sheet.replaceSync(text);
  };
  for (const property of ["textContent", "innerHTML"]) {
    Object.defineProperty(element, property, { configurable: true, get: () => text, set: write });
  }
  const remove = element.remove.bind(element);
  element.remove = () => {
    remove();
    doc.adoptedStyleSheets = doc.adoptedStyleSheets.filter((s) => s !== sheet);
  };
  return element;
}

/** Installs the stand-ins once per page (idempotent). */
export function installStyleShim(doc = document) {
  if (installed) return;
  installed = true;
  const create = doc.createElement.bind(doc);
  doc.createElement = function createElement(tag, options) {
    if (String(tag).toLowerCase() !== "style") return create(tag, options);
    const element = create("reliant-style");
    element.hidden = true;
    return backWithSheet(doc, element);
  };
  const win = doc.defaultView;
  const setAttribute = win.HTMLSpanElement.prototype.setAttribute;
  win.HTMLSpanElement.prototype.setAttribute = function (name, value) {
    if (String(name).toLowerCase() === "style") {
      this.style.cssText = String(value);
      return undefined;
    }
    return setAttribute.call(this, name, value);
  };
}
