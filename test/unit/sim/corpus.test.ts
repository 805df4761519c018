import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { createDefaultPolicyRegistry } from "../../../src/agreement/registry.ts";
import { distance } from "fastest-levenshtein";
import { outputHash, utf8 } from "../../../src/wire/hash.ts";
import { MINIMAL_EDIT_KINDS, SIM_CORPUS, type CorpusPrompt } from "../../../src/sim/corpus.ts";
import { adversaryCorpusRun, corpusTokens, createCorpusModel, honestCorpusRun, isHonestCorpusOutput } from "../../../src/sim/corpus-model.ts";
import { Rng, deriveKey, rootKey } from "../../../src/sim/prng.ts";
import { DEFAULT_MODEL, DIVERGENCE_PRESETS, type AdversarySpec, type DivergenceSpec } from "../../../src/sim/scenario.ts";
import { simulate } from "../../../src/sim/simulate.ts";
import { RequestWorld, createFleet, worldConstants } from "../../../src/sim/world.ts";
import { SIM_CORPUS_FILE, renderSimCorpus } from "../../../scripts/gen-sim-corpus.ts";
import { FULL_MIX, SEMANTIC, STRUCTURED, adversarySpec, scenarioOf } from "./helpers.ts";

const divergence = (preset: string): DivergenceSpec => ({ preset, ...(DIVERGENCE_PRESETS[preset] as Omit<DivergenceSpec, "preset">) });
const registry = createDefaultPolicyRegistry();
const root = rootKey("corpus-test");
const ctx = (label: number, preset = "vllm-default") => ({ run: new Rng(deriveKey(root, 2, label)), divergence: divergence(preset), hardwareKey: deriveKey(root, 3) });

const normalizedSimilarity = (a: string, b: string) => 1 - distance(a, b) / Math.max(a.length, b.length, 1);
const prompt = SIM_CORPUS.find((p) => p.id === "gov-timelock-tier1-01") as CorpusPrompt;

describe("the simulator's corpus", () => {
  it("is the decisions corpus as committed: regenerating src/sim/corpus.json changes nothing", () => {
    expect(renderSimCorpus()).toBe(readFileSync(SIM_CORPUS_FILE, "utf8"));
    expect(SIM_CORPUS.length).toBeGreaterThanOrEqual(60);
  });

  it("has what the simulator draws: five or more honest answers per section, lazy, confident-wrong and minimal edits; schemas structured@2 accepts", () => {
    for (const p of SIM_CORPUS) {
      for (const section of [p.free, p.pinned, p.json]) {
        expect(section.honest.length, p.id).toBeGreaterThanOrEqual(5);
        expect(section.wrong.some((w) => w.kind === "lazy"), p.id).toBe(true);
        expect(section.wrong.some((w) => w.kind === "confident-wrong"), p.id).toBe(true);
        expect(section.wrong.some((w) => MINIMAL_EDIT_KINDS.includes(w.kind)), p.id).toBe(true);
      }
      expect(() => registry.bind({ id: "structured", version: 2, params: p.json.schema ?? {} }), p.id).not.toThrow();
    }
  });

  it("keeps the measured similarity: honest free-text answers far apart, a minimal edit close to its source", () => {
    // What the synthetic paraphrase model got wrong (honest pairs ~0.94 alike): on the corpus,
    // honest pairs are ~0.3 alike by characters and a critical edit ~0.95 to its source.
    let honest = 0;
    let pairs = 0;
    let edits = 0;
    let editCount = 0;
    for (const p of SIM_CORPUS) {
      const answers = p.free.honest;
      for (let i = 0; i < answers.length; i++) {
        for (let j = i + 1; j < answers.length; j++) {
          honest += normalizedSimilarity(answers[i] as string, answers[j] as string);
          pairs++;
        }
      }
      for (const wrong of p.free.wrong) {
        if (wrong.of === undefined) continue;
        edits += normalizedSimilarity(wrong.text, answers[wrong.of] as string);
        editCount++;
      }
    }
    expect(honest / pairs).toBeLessThan(0.45);
    expect(edits / editCount).toBeGreaterThan(0.9);
  });
});

describe("corpus request model", () => {
  it("free sampling: the committee's honest members draw distinct honest answers while there are answers left", () => {
    const scenario = scenarioOf({ requests: 40, requestMix: [{ kind: "text", temperature: 0.7, sampler: "free", format: "pinned" }] });
    const fleet = createFleet(scenario);
    const constants = worldConstants(scenario);
    for (let index = 0; index < 10; index++) {
      const world = new RequestWorld(scenario, constants, index);
      const section = world.corpus?.section;
      expect(section).toBeDefined();
      if (!section) continue;
      const members = fleet.nodes.slice(index, index + 7);
      const outputs = world.runsFor(members, utf8(`request ${index}`)).map((run) => run.output?.output ?? "");
      for (const output of outputs) expect(section.honest).toContain(output);
      const first = outputs.slice(0, section.honest.length);
      expect(new Set(first).size).toBe(first.length);
      // The same committee and request id give the same assignment.
      expect(world.runsFor(members, utf8(`request ${index}`)).map((run) => run.output?.output)).toEqual(outputs);
    }
  });

  it("greedy JSON: identical answers on batch-invariant kernels; with drift, runs that fork give other honest answers", () => {
    const world = createCorpusModel(deriveKey(root, 1), prompt, "json", 0, true, DEFAULT_MODEL, 9_000, false);
    const invariant = new Set(Array.from({ length: 30 }, (_, r) => honestCorpusRun(world, ctx(r, "batch-invariant"), undefined, 0).output));
    expect([...invariant]).toEqual([prompt.json.honest[world.reference]]);
    const drifting = createCorpusModel(deriveKey(root, 4), prompt, "json", 0, true, { ...DEFAULT_MODEL, nearTieRate: 0.02 }, 9_000, false);
    const outputs = Array.from({ length: 200 }, (_, r) => honestCorpusRun(drifting, ctx(100 + r, "hosted-api"), undefined, 0).output);
    const counts = new Map<string, number>();
    for (const output of outputs) counts.set(output, (counts.get(output) ?? 0) + 1);
    expect(counts.size).toBeGreaterThan(1);
    expect(counts.get(prompt.json.honest[drifting.reference] as string)).toBeGreaterThan(0);
    for (const output of counts.keys()) expect(prompt.json.honest).toContain(output);
  });

  it("answer flips land on the section's flip answers; evidence tokens follow the text", () => {
    const world = createCorpusModel(deriveKey(root, 5), prompt, "free", 0.7, false, DEFAULT_MODEL, 9_000, true);
    const flipped = honestCorpusRun(world, ctx(7), 0, 1_000_000);
    expect(world.flips.map((f) => f.text)).toContain(flipped.output);
    expect(isHonestCorpusOutput(world, flipped.output)).toBe(true);
    expect(flipped.evidence.tokens).toEqual(corpusTokens(flipped.output));
    expect(flipped.evidence.margins).toHaveLength(flipped.evidence.tokens.length);
  });

  it("adversaries send the mapped wrong answers: lazy, confident-wrong (blatant), a minimal edit (subtle, margin liars), junk (random)", () => {
    for (const section of ["free", "pinned", "json"] as const) {
      const world = createCorpusModel(deriveKey(root, 6), prompt, section, 0.7, false, DEFAULT_MODEL, 9_000, false);
      const wrong = (kind: string) => world.section.wrong.filter((w) => w.kind === kind || (kind === "edit" && MINIMAL_EDIT_KINDS.includes(w.kind))).map((w) => w.text);
      const shared = () => new Rng(deriveKey(root, 8));
      const run = (s: AdversarySpec, own: number) => adversaryCorpusRun(world, s, shared(), new Rng(deriveKey(root, 9, own)));
      expect(wrong("lazy")).toContain(run(adversarySpec("lazy"), 1).output);
      expect(wrong("confident-wrong")).toContain(run(adversarySpec("colluding"), 1).output);
      const subtle = run(adversarySpec("colluding", { wrong: "subtle" }), 1);
      expect(wrong("edit")).toContain(subtle.output);
      expect(run(adversarySpec("colluding", { wrong: "subtle" }), 2).output).toBe(subtle.output);
      const liar = run(adversarySpec("margin-liar"), 1);
      expect(wrong("edit")).toContain(liar.output);
      expect(liar.evidence.margins.every((m) => m === 0)).toBe(true);
      const r1 = run(adversarySpec("random"), 1).output;
      expect(run(adversarySpec("random"), 2).output).not.toBe(r1);
      for (const output of [r1, subtle.output, run(adversarySpec("colluding"), 1).output]) expect(isHonestCorpusOutput(world, output), `${section}: ${output}`).toBe(false);
    }
  });

  it("classifies structured@2 decisions: every honest answer's canonical form is honest, no wrong answer's is", () => {
    const canonical = (policy: ReturnType<typeof registry.bind>, output: string) => {
      const decision = policy.decide([{ node: "a", output, outputHash: outputHash(output) }], { n: 1, k: 1, requestId: utf8("x") });
      return decision.agreed ? decision.output : undefined;
    };
    let wrongChecked = 0;
    for (const p of SIM_CORPUS) {
      const policy = registry.bind({ id: "structured", version: 2, params: p.json.schema ?? {} });
      const world = createCorpusModel(deriveKey(root, 10), p, "json", 0.7, false, DEFAULT_MODEL, 9_000, false);
      for (const answer of p.json.honest) expect(isHonestCorpusOutput(world, canonical(policy, answer) ?? ""), p.id).toBe(true);
      for (const wrong of p.json.wrong) {
        const form = canonical(policy, wrong.text);
        if (form === undefined) continue;
        wrongChecked++;
        expect(isHonestCorpusOutput(world, form), `${p.id} ${wrong.kind}`).toBe(false);
      }
    }
    expect(wrongChecked).toBeGreaterThan(300);
  });
});

describe("corpus requests in a simulation", () => {
  it("structured@2 takes each request's schema, semantic@2 its terms; wrong answers seated below k are never accepted", () => {
    const result = simulate(
      scenarioOf({
        requests: 60,
        registry: { size: 21 },
        requestMix: FULL_MIX,
        adversaries: [{ type: "colluding", share: 2 / 21, wrong: "subtle" }],
        policies: [{ id: "exact" }, { ...SEMANTIC, kinds: ["text/free", "text/pinned"] }, STRUCTURED],
      }),
    );
    const structured = result.summaries.find((s) => s.policy === "structured" && s.base);
    const semantic = result.summaries.find((s) => s.policy === "semantic" && s.base);
    expect(structured?.runs).toBeGreaterThan(5);
    expect(structured?.acceptanceRate).toBeGreaterThan(0.5);
    expect(semantic?.runs).toBeGreaterThan(5);
    for (const summary of result.summaries) {
      expect(summary.falseAccepts, summary.label).toBe(0);
      expect(summary.verifyFailures, summary.label).toBe(0);
    }
    const prompts = result.runs.filter((run) => run.prompt !== "");
    expect(prompts.every((run) => /\/(free|pinned|json)$/.test(run.prompt))).toBe(true);
    expect(result.runs.filter((run) => run.prompt === "").every((run) => run.kind === "text" && run.sampler === "seeded")).toBe(true);
  });
});
