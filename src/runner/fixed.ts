/**
 * The fixed backend: a stand-in for a model where what is measured or tested is the protocol,
 * not inference (benchmarks, end-to-end tests). It is not a model: its output is a hash of
 * (seed, model, input, maxTokens) spelt as words, returned after a fixed delay. Every node with
 * the same seed answers identically, as a batch-invariant deterministic model would; another
 * seed is another model. For a model whose name ends in "-json" it answers a JSON object
 * (`{"label": word, "score": number}`), for the structured policy.
 *
 * @example
 * const backend = createFixedBackend({ seed: "bench", delayMs: 10 });
 * const { output } = await backend.run({ requestId, model: "m", input: "hi", sampling });
 */
import { taggedHash } from "../wire/hash.ts";
import { sleep, type InferenceBackend, type InferenceJob, type InferenceResult } from "./backend.ts";

export interface FixedBackendInit {
  /** Another seed is another "model": its outputs differ on every input. */
  seed: string;
  /** Time each request takes, in ms (0: answer on the next macrotask). */
  delayMs: number;
}

/** Words the output is spelt with; a token id is a word's index. */
const WORDS = [
  "amber", "basalt", "cedar", "delta", "ember", "fjord", "granite", "harbor",
  "indigo", "juniper", "kelp", "lumen", "meadow", "nectar", "onyx", "prairie",
  "quartz", "river", "sierra", "tundra", "umber", "valley", "willow", "xenon",
  "yarrow", "zephyr", "aspen", "birch", "coral", "dune", "estuary", "fern",
];

/** Outputs stop at this many words, whatever maxTokens asks for. */
const MAX_WORDS = 256;
/** Every step's margin: far from any tie (1 nat), as a deterministic model's would be. */
const MARGIN_PPM = 1_000_000;

/** The words a job's output consists of: a hash stream over the job, one byte a word. */
function wordsOf(seed: string, job: InferenceJob, count: number): number[] {
  const ids: number[] = [];
  for (let block = 0; ids.length < count; block++) {
    const bytes = taggedHash("concord/fixed-backend", seed, job.model, job.input, String(job.sampling.maxTokens), String(block));
    for (const byte of bytes) {
      if (ids.length === count) break;
      ids.push(byte % WORDS.length);
    }
  }
  return ids;
}

/** What the fixed backend answers to a job (tests compute the expected canonical output with it). */
export function fixedOutput(seed: string, job: InferenceJob): InferenceResult {
  if (job.model.endsWith("-json")) {
    const [label = 0, whole = 0, cents = 0] = wordsOf(seed, job, 3);
    const output = JSON.stringify({ label: WORDS[label], score: Number(`${whole * 3}.${String(cents * 3).padStart(2, "0")}`) });
    return { output, evidence: { tokens: [label, whole, cents], margins: [MARGIN_PPM, MARGIN_PPM, MARGIN_PPM] } };
  }
  const count = Math.max(1, Math.min(MAX_WORDS, job.sampling.maxTokens));
  const tokens = wordsOf(seed, job, count);
  return { output: tokens.map((id) => WORDS[id]).join(" "), evidence: { tokens, margins: tokens.map(() => MARGIN_PPM) } };
}

export function createFixedBackend(init: FixedBackendInit): InferenceBackend {
  const { seed, delayMs } = init;
  const name = `fixed(${delayMs} ms)`;
  return {
    name,
    async run(job, signal) {
      await sleep(delayMs, signal, name);
      return fixedOutput(seed, job);
    },
  };
}
