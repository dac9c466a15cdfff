// Line charts as inline SVG: no chart library, nothing fetched.
const SVG = "http://www.w3.org/2000/svg";
const WIDTH = 320;
const HEIGHT = 150;
const PAD = { left: 46, right: 8, top: 8, bottom: 20 };
const COLOURS = ["#0b63ce", "#d9480f", "#2b8a3e", "#7048e8"];

export interface Series {
  readonly name: string;
  readonly points: readonly [number, number][];
}

function svg<K extends keyof SVGElementTagNameMap>(tag: K, attributes: Record<string, string | number>): SVGElementTagNameMap[K] {
  const element = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attributes)) element.setAttribute(key, String(value));
  return element;
}

function label(value: number): string {
  const magnitude = Math.abs(value);
  return magnitude !== 0 && (magnitude < 1e-2 || magnitude >= 1e4) ? value.toExponential(1) : value.toPrecision(3);
}

/** A figure with one line per series over the iterations; its text alternative gives the latest values. */
export function chart(title: string, series: readonly Series[]): HTMLElement {
  const all = series.flatMap((s) => s.points);
  const figure = document.createElement("figure");
  const caption = document.createElement("figcaption");
  caption.textContent = title;
  const latest = series
    .filter((s) => s.points.length)
    .map((s) => `${s.name} ${label(s.points[s.points.length - 1][1])} at iteration ${s.points[s.points.length - 1][0]}`)
    .join(", ");
  const image = svg("svg", { viewBox: `0 0 ${WIDTH} ${HEIGHT}`, role: "img", "aria-label": `${title}: ${latest || "no data yet"}` });
  image.dataset.points = String(all.length);
  if (all.length) {
    const xs = all.map((p) => p[0]);
    const ys = all.map((p) => p[1]);
    const [x0, x1] = [Math.min(...xs), Math.max(...xs)];
    let [y0, y1] = [Math.min(...ys), Math.max(...ys)];
    if (y0 === y1) [y0, y1] = [y0 - Math.abs(y0 || 1) * 0.1, y1 + Math.abs(y1 || 1) * 0.1];
    const x = (v: number) => PAD.left + ((v - x0) / (x1 - x0 || 1)) * (WIDTH - PAD.left - PAD.right);
    const y = (v: number) => HEIGHT - PAD.bottom - ((v - y0) / (y1 - y0)) * (HEIGHT - PAD.top - PAD.bottom);
    image.append(
      svg("line", { x1: PAD.left, y1: HEIGHT - PAD.bottom, x2: WIDTH - PAD.right, y2: HEIGHT - PAD.bottom, stroke: "#aab" }),
      svg("line", { x1: PAD.left, y1: PAD.top, x2: PAD.left, y2: HEIGHT - PAD.bottom, stroke: "#aab" }),
    );
    for (const [text, tx, ty, anchor] of [
      [label(y1), PAD.left - 4, PAD.top + 8, "end"],
      [label(y0), PAD.left - 4, HEIGHT - PAD.bottom, "end"],
      [String(x0), PAD.left, HEIGHT - 6, "start"],
      [`iteration ${x1}`, WIDTH - PAD.right, HEIGHT - 6, "end"],
    ] as const) {
      const node = svg("text", { x: tx, y: ty, "font-size": 10, "text-anchor": anchor, fill: "#5b6470" });
      node.textContent = text;
      image.append(node);
    }
    series.forEach((s, i) => {
      if (!s.points.length) return;
      const colour = COLOURS[i % COLOURS.length];
      const points = s.points.map(([px, py]) => `${x(px).toFixed(1)},${y(py).toFixed(1)}`).join(" ");
      image.append(svg("polyline", { points, fill: "none", stroke: colour, "stroke-width": 1.8, "data-series": s.name }));
      if (s.points.length === 1) {
        const [px, py] = s.points[0];
        image.append(svg("circle", { cx: x(px), cy: y(py), r: 2.5, fill: colour }));
      }
    });
  }
  const legend = document.createElement("div");
  legend.className = "legend";
  series.forEach((s, i) => {
    const item = document.createElement("span");
    const swatch = document.createElement("i");
    swatch.style.background = COLOURS[i % COLOURS.length];
    item.append(swatch, s.name);
    legend.append(item);
  });
  figure.append(caption, image, legend);
  return figure;
}
