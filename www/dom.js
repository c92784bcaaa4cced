// Two small DOM helpers the page's modules share; the page builds its elements with these
// rather than innerHTML, so no text from a data file or model output is ever parsed as HTML.

export const byId = (id) => document.getElementById(id);

/** A new `tag` element with `text` (when given) as its text and the given attributes. */
export function element(tag, text, attributes = {}) {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  return node;
}
