// How a file is indented, so that Tab in the editor indents the way the file already does.

/** The indentation a file uses: a tab, or the smallest run of leading spaces (2 or 4). */
export function indentOf(text) {
  let smallest = 0;
  for (const line of text.split("\n", 2000)) {
    if (line.startsWith("\t")) return "\t";
    const spaces = /^( +)\S/.exec(line);
    if (spaces && (!smallest || spaces[1].length < smallest)) smallest = spaces[1].length;
  }
  return smallest === 2 ? "  " : "    ";
}
