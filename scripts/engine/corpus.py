"""WordNet 3.0 glosses and examples as a plain-text corpus, one synset per line.

Reads the Debian `wordnet-base` data files (Princeton WordNet 3.0 licence, see
models/WORDNET-LICENSE) and writes train.txt and val.txt: every 50th synset, in file order, is
held out. A line reads like

    kill (noun): the destruction of an enemy plane or ship or tank or missile; "the pilot reported two kills during the mission"

usage: corpus.py OUT_DIR [WORDNET_DIR]
"""
import os
import sys

POS_FILES = [("noun", "data.noun"), ("verb", "data.verb"), ("adjective", "data.adj"), ("adverb", "data.adv")]
HELD_OUT_EVERY = 50


def synset_line(record: str, pos: str) -> str:
    head, gloss = record.split(" | ", 1)
    fields = head.split()
    word_count = int(fields[3], 16)  # w_cnt is two hex digits
    words = []
    for i in range(word_count):
        word = fields[4 + 2 * i]
        word = word.split("(")[0]  # adjective markers: big(a), galore(ip)
        words.append(word.replace("_", " "))
    return f"{', '.join(words)} ({pos}): {gloss.strip()}"


def synsets(wordnet_dir: str):
    for pos, name in POS_FILES:
        with open(os.path.join(wordnet_dir, name), encoding="utf-8") as f:
            for record in f:
                if record.startswith("  "):  # the licence header
                    continue
                yield synset_line(record, pos)


def main() -> None:
    out_dir = sys.argv[1]
    wordnet_dir = sys.argv[2] if len(sys.argv) > 2 else "/usr/share/wordnet"
    os.makedirs(out_dir, exist_ok=True)
    counts = {"train": 0, "val": 0}
    with open(os.path.join(out_dir, "train.txt"), "w", encoding="utf-8") as train, \
            open(os.path.join(out_dir, "val.txt"), "w", encoding="utf-8") as val:
        for i, line in enumerate(synsets(wordnet_dir)):
            split = "val" if i % HELD_OUT_EVERY == 0 else "train"
            (val if split == "val" else train).write(line + "\n")
            counts[split] += 1
    print(f"corpus: {counts['train']} training synsets, {counts['val']} held out -> {out_dir}")


if __name__ == "__main__":
    main()
