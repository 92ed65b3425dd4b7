// Building the DOM without innerHTML: every piece of data becomes a text node or an attribute value.
// Product titles, merchant ids and messages are hostile input.

export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  setAttrs(el, attrs);
  append(el, children);
  return el;
}

function setAttrs(el, attrs) {
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v == null || v === false) continue;
    if (k === "class") el.className = v;
    else if (k === "text") el.textContent = String(v);
    else if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
    else if (k === "dataset") Object.assign(el.dataset, v);
    else if ((k === "href" || k === "src") && typeof v === "string") el.setAttribute(k, safeUrl(v));
    else el.setAttribute(k, v === true ? "" : String(v));
  }
}

export function append(el, children) {
  for (const c of [children].flat(Infinity)) {
    if (c == null || c === false) continue;
    el.append(c instanceof Node ? c : String(c));       // a string becomes a text node
  }
  return el;
}

/** Only http(s), same-origin paths and fragments: never javascript: or data: from the API. */
export function safeUrl(u) {
  const s = String(u);
  if (s.startsWith("#") || (s.startsWith("/") && !s.startsWith("//"))) return s;
  try {
    const url = new URL(s, location.href);
    return url.protocol === "http:" || url.protocol === "https:" ? url.href : "about:blank";
  } catch { return "about:blank"; }
}

export function clear(el) { el.replaceChildren(); return el; }

const SVG = "http://www.w3.org/2000/svg";
export function svg(tag, attrs, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) if (v != null) el.setAttribute(k, String(v));
  for (const c of children.flat(Infinity)) {
    if (c == null || c === false) continue;
    el.append(c instanceof Node ? c : String(c));
  }
  return el;
}

/** Replace el's children with these (arrays flattened, strings as text nodes). */
export function fill(el, ...children) { el.replaceChildren(); return append(el, children); }
