/**
 * Generates src/sim/corpus.json, the simulator's copy of the decisions corpus
 * (bench/data/decisions, README there), so that `concord sim` ships it as code and its pure core
 * never reads a file:
 *   npx node scripts/gen-sim-corpus.ts        (writes the file)
 * The copy holds every prompt of every file (files in name order, prompts in file order), checked
 * by the bench's loader (`loadCorpus`), with nothing dropped or edited. test/unit/sim/corpus.test.ts
 * regenerates it in memory and fails if a committed byte differs: edit the corpus, then rerun this.
 */
import { writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { CORPUS_DIR, loadCorpus } from "../bench/decisions.bench.ts";

export const SIM_CORPUS_FILE = fileURLToPath(new URL("../src/sim/corpus.json", import.meta.url));

/** The file's text: the corpus as one JSON list, one prompt per top-level entry. */
export function renderSimCorpus(dir = CORPUS_DIR): string {
  const prompts = loadCorpus(dir).map((prompt) => ({
    id: prompt.id,
    kind: prompt.kind,
    prompt: prompt.prompt,
    ...(prompt.labels ? { labels: prompt.labels } : {}),
    free: prompt.free,
    pinned: prompt.pinned,
    json: prompt.json,
  }));
  return `[\n${prompts.map((prompt) => JSON.stringify(prompt)).join(",\n")}\n]\n`;
}

if (import.meta.main) {
  writeFileSync(SIM_CORPUS_FILE, renderSimCorpus());
  console.log(`wrote ${SIM_CORPUS_FILE}`);
}
