import { describe, expect, it } from "vitest";
import { Rng, deriveKey, fmix32, labelOf, rootKey, streamOf } from "../../../src/sim/prng.ts";

describe("sim PRNG (xoshiro128** streams keyed by splitmix/fmix over the seed)", () => {
  it("gives the same stream for the same key and different streams for different labels", () => {
    const root = rootKey("42");
    const a = streamOf(root, 1, 2);
    const b = streamOf(root, 1, 2);
    const c = streamOf(root, 2, 1);
    const seqA = Array.from({ length: 8 }, () => a.nextU32());
    expect(Array.from({ length: 8 }, () => b.nextU32())).toEqual(seqA);
    expect(Array.from({ length: 8 }, () => c.nextU32())).not.toEqual(seqA);
    expect(rootKey("42")).toEqual(root);
    expect(rootKey("43")).not.toEqual(root);
  });

  it("pins its first outputs (a change here changes every simulation)", () => {
    const rng = new Rng(deriveKey(rootKey("pin"), 7));
    expect([rng.nextU32(), rng.nextU32(), rng.nextU32()]).toMatchSnapshot();
    expect(fmix32(1)).toBe(0x514e28b7);
    expect(labelOf("abc")).toBe(labelOf("abc"));
  });

  it("draws floats in [0, 1), integers in range and sane normals", () => {
    const rng = streamOf(rootKey("dist"), 1);
    let sum = 0;
    let sumSq = 0;
    let uniform = 0;
    const N = 20000;
    for (let i = 0; i < N; i++) {
      const u = rng.next();
      expect(u >= 0 && u < 1).toBe(true);
      uniform += u;
      const k = rng.int(10);
      expect(Number.isInteger(k) && k >= 0 && k < 10).toBe(true);
      const z = rng.normal();
      sum += z;
      sumSq += z * z;
    }
    expect(Math.abs(uniform / N - 0.5)).toBeLessThan(0.01);
    expect(Math.abs(sum / N)).toBeLessThan(0.03);
    expect(Math.abs(sumSq / N - 1)).toBeLessThan(0.05);
    expect(rng.exponential(3)).toBeGreaterThanOrEqual(0);
  });
});
