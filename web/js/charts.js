// Charts as inline SVG, drawn from data with text nodes only.
import { svg, h } from "./dom.js";

/** Horizontal bars: rows [{label, value, prev?}] — with prev, a thin bar of last week under each. */
export function barChart(rows, { width = 460, title = "", legend = null } = {}) {
  const lineH = 30, labelW = 200, valueW = 44, pad = 6;
  const max = Math.max(1, ...rows.map((r) => Math.max(r.value || 0, r.prev || 0)));
  const barW = width - labelW - valueW - pad * 2;
  const height = Math.max(lineH, rows.length * lineH) + pad * 2;
  const g = rows.map((r, i) => {
    const y = pad + i * lineH;
    const w = Math.round((barW * (r.value || 0)) / max);
    const pw = r.prev != null ? Math.round((barW * r.prev) / max) : null;
    const label = String(r.label);
    return svg("g", { class: "bar-row" },
      svg("title", {}, `${label}: ${r.value}${r.prev != null ? ` (${r.prev})` : ""}`),
      svg("text", { x: labelW - 8, y: y + 15, "text-anchor": "end", class: "bar-label" },
        label.length > 22 ? `${label.slice(0, 21)}…` : label),
      svg("rect", { x: labelW, y: y + 3, width: Math.max(w, 1), height: 16, rx: 3, class: "bar" }),
      pw != null ? svg("rect", { x: labelW, y: y + 21, width: Math.max(pw, 1), height: 4, rx: 2, class: "bar-prev" }) : null,
      svg("text", { x: labelW + Math.max(w, 1) + 6, y: y + 15, class: "bar-value" }, String(r.value ?? 0)));
  });
  return h("figure", { class: "chart" },
    title ? h("figcaption", {}, title) : null,
    svg("svg", { viewBox: `0 0 ${width} ${height}`, width: "100%", role: "img", "aria-label": title }, g),
    legend);
}

/** Two bars side by side per group: this week against the previous one. */
export function trendChart(points, { width = 460, title = "", names = ["", ""] } = {}) {
  const height = 180, base = 150, top = 20;
  const max = Math.max(1, ...points.flatMap((p) => [p.value || 0, p.prev || 0]));
  const slot = width / Math.max(points.length, 1);
  const bw = Math.min(36, slot / 3);
  const scale = (v) => Math.round(((base - top) * (v || 0)) / max);
  const g = points.map((p, i) => {
    const cx = slot * i + slot / 2;
    return svg("g", {},
      svg("rect", { x: cx - bw - 2, y: base - scale(p.prev), width: bw, height: scale(p.prev), class: "bar-prev-col" }),
      svg("rect", { x: cx + 2, y: base - scale(p.value), width: bw, height: scale(p.value), class: "bar" }),
      svg("text", { x: cx - bw / 2 - 2, y: base - scale(p.prev) - 4, "text-anchor": "middle", class: "bar-value" }, String(p.prev ?? 0)),
      svg("text", { x: cx + bw / 2 + 2, y: base - scale(p.value) - 4, "text-anchor": "middle", class: "bar-value" }, String(p.value ?? 0)),
      svg("text", { x: cx, y: base + 18, "text-anchor": "middle", class: "bar-label" }, String(p.label)));
  });
  return h("figure", { class: "chart" },
    title ? h("figcaption", {}, title) : null,
    svg("svg", { viewBox: `0 0 ${width} ${height}`, width: "100%", role: "img", "aria-label": title },
      svg("line", { x1: 0, x2: width, y1: base, y2: base, class: "axis" }), g),
    h("div", { class: "legend" },
      h("span", { class: "swatch prev" }), names[1], h("span", { class: "swatch now" }), names[0]));
}
