import { describe, expect, it } from "vitest";
import { barChart, formatNumber, formatPercent, lineChart, niceTicks, scatterChart } from "../../../src/sim/svg.ts";

function balanced(svg: string): boolean {
  const open = (svg.match(/<(svg|text)\b/g) ?? []).length;
  const close = (svg.match(/<\/(svg|text)>/g) ?? []).length;
  return open === close && svg.startsWith("<svg") && svg.trimEnd().endsWith("</svg>");
}

describe("SVG writer", () => {
  it("picks round ticks", () => {
    expect(niceTicks(0, 1)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
    expect(niceTicks(0, 2300)).toEqual([0, 500, 1000, 1500, 2000]);
    expect(formatNumber(123456)).toBe("123k");
    expect(formatNumber(0.25)).toBe("0.25");
    expect(formatPercent(0.034)).toBe("3.4%");
  });

  it("renders well-formed, deterministic charts and escapes text", () => {
    const line = lineChart({ title: "a < b & c", xLabel: "x", yLabel: "y", series: [{ name: "s1", points: [[0, 0], [1, 0.5], [2, 1]], step: true }, { name: "s2", points: [[0, 1], [2, 0]], dashed: true }] });
    expect(balanced(line)).toBe(true);
    expect(line).toContain("a &lt; b &amp; c");
    expect(lineChart({ title: "a < b & c", xLabel: "x", yLabel: "y", series: [{ name: "s1", points: [[0, 0], [1, 0.5], [2, 1]], step: true }, { name: "s2", points: [[0, 1], [2, 0]], dashed: true }] })).toBe(line);
    expect(balanced(scatterChart({ title: "t", xLabel: "x", yLabel: "y", points: [{ label: "p", x: 0.1, y: 0.9 }, { label: "q", x: 0, y: 1 }] }))).toBe(true);
    expect(balanced(barChart({ title: "t", yLabel: "y", bars: [{ label: "a", value: 3 }, { label: "b", value: 0 }] }))).toBe(true);
    expect(balanced(lineChart({ title: "empty", xLabel: "x", yLabel: "y", series: [] }))).toBe(true);
  });
});
