import { describe, expect, it } from "vitest";
import { calibrateGreedy, calibrateSampled } from "../../../src/sim/calibrate.ts";
import {
  adversaryText,
  childBranch,
  createTextModel,
  firstNearTie,
  honestForkRun,
} from "../../../src/sim/divergence.ts";
import { Rng, deriveKey, rootKey } from "../../../src/sim/prng.ts";
import { DEFAULT_MODEL, DIVERGENCE_PRESETS, type DivergenceSpec } from "../../../src/sim/scenario.ts";
import { adversarySpec } from "./helpers.ts";
import { VOCAB_SIZE, renderText, synonymOf, wordOf } from "../../../src/sim/vocab.ts";

const vllm: DivergenceSpec = { preset: "vllm-default", ...(DIVERGENCE_PRESETS["vllm-default"] as Omit<DivergenceSpec, "preset">) };

describe("synthetic vocabulary", () => {
  it("has one word per token id, synonyms in groups of four", () => {
    const words = new Set(Array.from({ length: VOCAB_SIZE }, (_, i) => wordOf(i)));
    expect(words.size).toBe(VOCAB_SIZE);
    expect(synonymOf(8, 0) >> 2).toBe(2);
    expect(synonymOf(8, 0)).not.toBe(8);
  });
});

describe("fork model (text)", () => {
  const root = rootKey("divergence-test");
  const world = createTextModel(deriveKey(root, 1), 600, 0, false, DEFAULT_MODEL, vllm.runDriftPpm, false);

  it("forks only where the reference margin is a near tie, with consistent evidence", () => {
    let forked = 0;
    for (let r = 0; r < 200; r++) {
      const run = honestForkRun(world, { run: new Rng(deriveKey(root, 2, r)), divergence: vllm, hardwareKey: deriveKey(root, 3) });
      const { tokens, margins } = run.evidence;
      expect(tokens).toHaveLength(600);
      expect(margins).toHaveLength(600);
      expect(run.output).toBe(renderText(tokens));
      let d = 0;
      while (d < tokens.length && tokens[d] === world.root.tokens[d]) d++;
      if (d === tokens.length) continue;
      forked++;
      // The reference margin there was within the noise, and the run reports a near tie too.
      expect(world.root.margins[d] as number).toBeLessThan(world.candidateCap);
      expect(margins[d] as number).toBeLessThan(world.candidateCap);
    }
    expect(forked).toBeGreaterThan(0);
  });

  it("never forks under batch-invariant kernels", () => {
    const invariant: DivergenceSpec = { ...vllm, runDriftPpm: 0, hardwareDriftPpm: 0 };
    const outputs = new Set<string>();
    for (let r = 0; r < 20; r++) outputs.add(honestForkRun(world, { run: new Rng(deriveKey(root, 4, r)), divergence: invariant, hardwareKey: deriveKey(root, 3) }).output);
    expect(outputs.size).toBe(1);
  });

  it("is calibrated near the published figures", () => {
    // Thinking Machines (2025): 80 distinct of 1,000, most common 78, first divergence at token 103.
    const greedy = calibrateGreedy({ prompts: 7, runs: 400 });
    expect(greedy.distinctCompletions).toBeGreaterThan(15);
    expect(greedy.distinctCompletions).toBeLessThan(250);
    expect(greedy.firstDivergenceStep).toBeGreaterThan(30);
    expect(greedy.firstDivergenceStep).toBeLessThan(400);
    // Token-DiFR (2025): over 98% of tokens match with a shared seed.
    const sampled = calibrateSampled({ prompts: 5, runs: 50 });
    expect(sampled.stepMatchRate).toBeGreaterThan(0.98);
    expect(sampled.stepMatchRate).toBeLessThan(0.999);
  });
});

describe("adversary outputs", () => {
  const root = rootKey("adversary-test");
  const world = createTextModel(deriveKey(root, 1), 400, 0.7, true, DEFAULT_MODEL, vllm.runDriftPpm, false);

  it("near-tie margin liars leave the reference at a genuine near tie, take the honest runner-up, and claim margin 0 everywhere", () => {
    const out = adversaryText(world, adversarySpec("margin-liar"), new Rng(deriveKey(root, 2)), new Rng(deriveKey(root, 3)));
    const d = firstNearTie(world);
    expect(d).toBeDefined();
    if (d === undefined) return;
    expect(out.evidence.tokens.slice(0, d)).toEqual(Array.from(world.root.tokens.slice(0, d)));
    expect(out.evidence.tokens[d]).toBe(childBranch(world, world.root, d).tokens[d]);
    expect(world.root.margins[d] as number).toBeLessThan(world.candidateCap);
    expect(out.evidence.margins.every((m) => m === 0)).toBe(true);
  });

  it("lazy nodes and colluders agree among themselves (one shared stream), random nodes do not", () => {
    const shared = () => new Rng(deriveKey(root, 4));
    for (const type of ["lazy", "colluding"] as const) {
      const a = adversaryText(world, adversarySpec(type), shared(), new Rng(deriveKey(root, 5)));
      const b = adversaryText(world, adversarySpec(type), shared(), new Rng(deriveKey(root, 6)));
      expect(a.output).toBe(b.output);
      expect(a.output).not.toBe(renderText(world.root.tokens));
    }
    const r1 = adversaryText(world, adversarySpec("random"), shared(), new Rng(deriveKey(root, 5)));
    const r2 = adversaryText(world, adversarySpec("random"), shared(), new Rng(deriveKey(root, 6)));
    expect(r1.output).not.toBe(r2.output);
  });
});
