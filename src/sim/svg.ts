/**
 * A small SVG chart writer for the simulator's report: line charts (with optional step lines,
 * for CDFs), scatter plots and bar charts, rendered to a string in Node with no browser. Output
 * is deterministic: coordinates are printed with fixed decimals, so the same data gives the same
 * bytes.
 *
 * @example
 * const svg = lineChart({ title: "Acceptance vs theta", xLabel: "thetaPpm", yLabel: "rate",
 *   series: [{ name: "semantic", points: [[800000, 1], [900000, 0.98]] }] });
 */

export const PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#7f7f7f", "#bcbd22"];
/** The colour reserved for the first-wins baseline. */
export const BASELINE_COLOR = "#444444";

export interface Series {
  name: string;
  points: readonly (readonly [number, number])[];
  color?: string;
  dashed?: boolean;
  dotted?: boolean;
  /** Draw as a step function (for CDFs). */
  step?: boolean;
  /** Mark each point with a dot. */
  markers?: boolean;
}

export interface Axes {
  title: string;
  xLabel: string;
  yLabel: string;
  width?: number;
  height?: number;
  xMin?: number;
  xMax?: number;
  yMin?: number;
  yMax?: number;
  /** Format tick labels, e.g. as percentages. */
  xFormat?: (value: number) => string;
  yFormat?: (value: number) => string;
}

const MARGIN = { left: 64, right: 16, top: 36, bottom: 48 };
const LEGEND_ROW = 16;

/** XML-escapes text content and attribute values. */
export function escapeXml(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

function fixed(value: number): string {
  const text = (Math.round(value * 100) / 100).toFixed(2);
  return text === "-0.00" ? "0.00" : text.replace(/\.?0+$/, "") || "0";
}

/** A compact, deterministic number label: up to 4 significant digits, k/M suffixes. */
export function formatNumber(value: number): string {
  if (value === 0) return "0";
  const abs = Math.abs(value);
  if (abs >= 1e6) return `${trim((value / 1e6).toFixed(abs >= 1e7 ? 0 : 2))}M`;
  if (abs >= 1e4) return `${trim((value / 1e3).toFixed(abs >= 1e5 ? 0 : 1))}k`;
  if (abs >= 100) return trim(value.toFixed(0));
  if (abs >= 1) return trim(value.toFixed(2));
  return trim(value.toFixed(4));
}

function trim(text: string): string {
  return text.includes(".") ? text.replace(/\.?0+$/, "") : text;
}

export function formatPercent(value: number): string {
  return `${trim((value * 100).toFixed(Math.abs(value) < 0.1 ? 1 : 0))}%`;
}

/** About `count` round tick values covering [min, max]. */
export function niceTicks(min: number, max: number, count = 5): number[] {
  if (!(max > min)) return [min];
  const raw = (max - min) / count;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * magnitude).find((s) => s >= raw) ?? raw;
  const ticks: number[] = [];
  const first = Math.ceil(min / step - 1e-9);
  const last = Math.floor(max / step + 1e-9);
  for (let i = first; i <= last; i++) ticks.push(Number.parseFloat((i * step).toPrecision(12)) + 0);
  return ticks;
}

interface Frame {
  width: number;
  height: number;
  x: (v: number) => number;
  y: (v: number) => number;
  xMin: number;
  xMax: number;
  yMin: number;
  yMax: number;
}

function extent(values: number[], min: number | undefined, max: number | undefined): [number, number] {
  let lo = min ?? Math.min(...values);
  let hi = max ?? Math.max(...values);
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) return [0, 1];
  if (hi === lo) {
    const pad = lo === 0 ? 1 : Math.abs(lo) * 0.1;
    if (min === undefined) lo -= pad;
    if (max === undefined) hi += pad;
  }
  return [lo, hi];
}

function frame(axes: Axes, xs: number[], ys: number[], legendRows: number): Frame {
  const width = axes.width ?? 640;
  const height = (axes.height ?? 360) + legendRows * LEGEND_ROW;
  const [xMin, xMax] = extent(xs, axes.xMin, axes.xMax);
  const [yMin, yMax] = extent(ys, axes.yMin, axes.yMax);
  const plotW = width - MARGIN.left - MARGIN.right;
  const plotH = height - MARGIN.top - MARGIN.bottom - legendRows * LEGEND_ROW;
  return {
    width,
    height,
    xMin,
    xMax,
    yMin,
    yMax,
    x: (v) => MARGIN.left + ((v - xMin) / (xMax - xMin)) * plotW,
    y: (v) => MARGIN.top + plotH - ((v - yMin) / (yMax - yMin)) * plotH,
  };
}

function open(f: Frame, title: string): string[] {
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${f.width}" height="${f.height}" viewBox="0 0 ${f.width} ${f.height}" font-family="Helvetica, Arial, sans-serif" font-size="11">`,
    `<rect width="${f.width}" height="${f.height}" fill="#ffffff"/>`,
    `<text x="${f.width / 2}" y="20" text-anchor="middle" font-size="14" font-weight="bold">${escapeXml(title)}</text>`,
  ];
}

function axesLines(f: Frame, axes: Axes): string[] {
  const out: string[] = [];
  const x0 = f.x(f.xMin);
  const x1 = f.x(f.xMax);
  const y0 = f.y(f.yMin);
  const y1 = f.y(f.yMax);
  const xf = axes.xFormat ?? formatNumber;
  const yf = axes.yFormat ?? formatNumber;
  for (const t of niceTicks(f.yMin, f.yMax)) {
    const y = fixed(f.y(t));
    out.push(`<line x1="${fixed(x0)}" y1="${y}" x2="${fixed(x1)}" y2="${y}" stroke="#e5e5e5"/>`);
    out.push(`<text x="${fixed(x0 - 6)}" y="${y}" text-anchor="end" dominant-baseline="middle">${escapeXml(yf(t))}</text>`);
  }
  for (const t of niceTicks(f.xMin, f.xMax)) {
    const x = fixed(f.x(t));
    out.push(`<line x1="${x}" y1="${fixed(y0)}" x2="${x}" y2="${fixed(y0 + 4)}" stroke="#333"/>`);
    out.push(`<text x="${x}" y="${fixed(y0 + 16)}" text-anchor="middle">${escapeXml(xf(t))}</text>`);
  }
  out.push(`<rect x="${fixed(x0)}" y="${fixed(y1)}" width="${fixed(x1 - x0)}" height="${fixed(y0 - y1)}" fill="none" stroke="#333"/>`);
  out.push(`<text x="${fixed((x0 + x1) / 2)}" y="${fixed(y0 + 34)}" text-anchor="middle">${escapeXml(axes.xLabel)}</text>`);
  out.push(`<text transform="translate(14 ${fixed((y0 + y1) / 2)}) rotate(-90)" text-anchor="middle">${escapeXml(axes.yLabel)}</text>`);
  return out;
}

/** Legend entries per row: two, or one when names are long. */
function perRowFor(names: readonly string[]): number {
  return names.some((name) => name.length > 40) ? 1 : 2;
}

function legendRows(names: readonly string[]): number {
  return Math.ceil(names.length / perRowFor(names));
}

function dash(series: { dashed?: boolean; dotted?: boolean }): string {
  if (series.dotted) return ' stroke-dasharray="2 3"';
  return series.dashed ? ' stroke-dasharray="5 3"' : "";
}

function legend(f: Frame, entries: { name: string; color: string; dash?: string; dot?: boolean }[]): string[] {
  const out: string[] = [];
  const perRow = perRowFor(entries.map((e) => e.name));
  const colW = (f.width - MARGIN.left - MARGIN.right) / perRow;
  entries.forEach((entry, i) => {
    const x = MARGIN.left + (i % perRow) * colW;
    const y = f.height - 8 - (Math.ceil(entries.length / perRow) - 1 - Math.floor(i / perRow)) * LEGEND_ROW;
    if (entry.dot) out.push(`<circle cx="${fixed(x + 9)}" cy="${fixed(y - 4)}" r="4" fill="${entry.color}"/>`);
    else out.push(`<line x1="${fixed(x)}" y1="${fixed(y - 4)}" x2="${fixed(x + 18)}" y2="${fixed(y - 4)}" stroke="${entry.color}" stroke-width="2"${entry.dash ?? ""}/>`);
    const limit = perRow === 1 ? 96 : 44;
    const name = entry.name.length > limit ? `${entry.name.slice(0, limit - 1)}…` : entry.name;
    out.push(`<text x="${fixed(x + 24)}" y="${fixed(y)}">${escapeXml(name)}</text>`);
  });
  return out;
}

/** A line chart; `step` series draw as right-continuous steps (a CDF). */
export function lineChart(axes: Axes & { series: readonly Series[] }): string {
  const xs = axes.series.flatMap((s) => s.points.map((p) => p[0]));
  const ys = axes.series.flatMap((s) => s.points.map((p) => p[1]));
  const rows = legendRows(axes.series.map((s) => s.name));
  const f = frame(axes, xs.length ? xs : [0, 1], ys.length ? ys : [0, 1], rows);
  const out = open(f, axes.title);
  out.push(...axesLines(f, axes));
  axes.series.forEach((series, i) => {
    const color = series.color ?? (PALETTE[i % PALETTE.length] as string);
    if (series.points.length === 0) return;
    const coords: string[] = [];
    let prev: readonly [number, number] | undefined;
    for (const point of series.points) {
      if (series.step && prev) coords.push(`${fixed(f.x(point[0]))},${fixed(f.y(prev[1]))}`);
      coords.push(`${fixed(f.x(point[0]))},${fixed(f.y(point[1]))}`);
      prev = point;
    }
    out.push(`<polyline fill="none" stroke="${color}" stroke-width="2"${dash(series)} points="${coords.join(" ")}"/>`);
    if (series.markers) for (const p of series.points) out.push(`<circle cx="${fixed(f.x(p[0]))}" cy="${fixed(f.y(p[1]))}" r="3" fill="${color}"/>`);
  });
  out.push(...legend(f, axes.series.map((s, i) => ({ name: s.name, color: s.color ?? (PALETTE[i % PALETTE.length] as string), dash: dash(s) }))));
  out.push("</svg>");
  return `${out.join("\n")}\n`;
}

export interface ScatterPoint {
  label: string;
  x: number;
  y: number;
  color?: string;
}

/** A scatter plot with one labelled dot per point, and a legend. */
export function scatterChart(axes: Axes & { points: readonly ScatterPoint[] }): string {
  const rows = legendRows(axes.points.map((p, i) => `${i + 1}. ${p.label}`));
  const f = frame(axes, axes.points.map((p) => p.x), axes.points.map((p) => p.y), rows);
  const out = open(f, axes.title);
  out.push(...axesLines(f, axes));
  axes.points.forEach((p, i) => {
    const color = p.color ?? (PALETTE[i % PALETTE.length] as string);
    out.push(`<circle cx="${fixed(f.x(p.x))}" cy="${fixed(f.y(p.y))}" r="6" fill="${color}" fill-opacity="0.85" stroke="#fff"/>`);
    out.push(`<text x="${fixed(f.x(p.x) + 9)}" y="${fixed(f.y(p.y) - 7)}" font-size="10">${i + 1}</text>`);
  });
  out.push(...legend(f, axes.points.map((p, i) => ({ name: `${i + 1}. ${p.label}`, color: p.color ?? (PALETTE[i % PALETTE.length] as string), dot: true }))));
  out.push("</svg>");
  return `${out.join("\n")}\n`;
}

export interface Bar {
  label: string;
  value: number;
  color?: string;
}

/** A vertical bar chart, one bar per entry, labelled underneath by index and in a legend. */
export function barChart(axes: Omit<Axes, "xLabel" | "xMin" | "xMax" | "xFormat"> & { xLabel?: string; bars: readonly Bar[] }): string {
  const rows = legendRows(axes.bars.map((b, i) => `${i + 1}. ${b.label}`));
  const values = axes.bars.map((b) => b.value);
  // Headroom above the tallest bar for its value label.
  const yMax = axes.yMax ?? Math.max(0, ...values) * 1.12;
  const f = frame({ ...axes, xLabel: axes.xLabel ?? "", xMin: 0, xMax: Math.max(1, axes.bars.length), yMin: axes.yMin ?? 0, ...(yMax > 0 ? { yMax } : {}) }, [0, axes.bars.length], values.length ? values : [0, 1], rows);
  const out = open(f, axes.title);
  const yf = axes.yFormat ?? formatNumber;
  for (const t of niceTicks(f.yMin, f.yMax)) {
    const y = fixed(f.y(t));
    out.push(`<line x1="${fixed(f.x(0))}" y1="${y}" x2="${fixed(f.x(f.xMax))}" y2="${y}" stroke="#e5e5e5"/>`);
    out.push(`<text x="${fixed(f.x(0) - 6)}" y="${y}" text-anchor="end" dominant-baseline="middle">${escapeXml(yf(t))}</text>`);
  }
  const slot = f.x(1) - f.x(0);
  axes.bars.forEach((bar, i) => {
    const color = bar.color ?? (PALETTE[i % PALETTE.length] as string);
    const x = f.x(i) + slot * 0.15;
    const top = f.y(Math.max(f.yMin, bar.value));
    out.push(`<rect x="${fixed(x)}" y="${fixed(top)}" width="${fixed(slot * 0.7)}" height="${fixed(f.y(f.yMin) - top)}" fill="${color}"/>`);
    out.push(`<text x="${fixed(x + slot * 0.35)}" y="${fixed(top - 4)}" text-anchor="middle" font-size="10">${escapeXml(yf(bar.value))}</text>`);
    out.push(`<text x="${fixed(x + slot * 0.35)}" y="${fixed(f.y(f.yMin) + 14)}" text-anchor="middle">${i + 1}</text>`);
  });
  out.push(`<rect x="${fixed(f.x(0))}" y="${fixed(f.y(f.yMax))}" width="${fixed(f.x(f.xMax) - f.x(0))}" height="${fixed(f.y(f.yMin) - f.y(f.yMax))}" fill="none" stroke="#333"/>`);
  out.push(`<text transform="translate(14 ${fixed((f.y(f.yMin) + f.y(f.yMax)) / 2)}) rotate(-90)" text-anchor="middle">${escapeXml(axes.yLabel)}</text>`);
  out.push(...legend(f, axes.bars.map((b, i) => ({ name: `${i + 1}. ${b.label}`, color: b.color ?? (PALETTE[i % PALETTE.length] as string), dot: true }))));
  out.push("</svg>");
  return `${out.join("\n")}\n`;
}
