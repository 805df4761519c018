"""Trains the SentencePiece BPE tokenizer and writes it in llama2.c's tokenizer.bin format.

tokenizer.bin is what `llama-convert-llama2c-to-ggml --copy-vocab-from-model` reads: a u32
max token length, then for each id a f32 score, a u32 byte length and the piece's UTF-8 bytes,
with SentencePiece's "▁" written as a space (the converter turns it back). Ids 0, 1, 2 must be
<unk>, <s>, </s>: the converter assumes them. Byte fallback makes every string encodable.

usage: tokenizer.py CORPUS_TXT OUT_PREFIX [VOCAB_SIZE]   -> OUT_PREFIX.model, OUT_PREFIX.bin
"""
import os
import struct
import sys

import sentencepiece as spm

SEED = 1337


def train(corpus: str, prefix: str, vocab_size: int) -> None:
    spm.set_random_generator_seed(SEED)
    spm.SentencePieceTrainer.train(
        input=corpus,
        model_prefix=prefix,
        model_type="bpe",
        vocab_size=vocab_size,
        character_coverage=1.0,
        byte_fallback=True,
        split_digits=True,
        allow_whitespace_only_pieces=True,
        normalization_rule_name="identity",  # llama.cpp does not normalize either
        unk_id=0, bos_id=1, eos_id=2, pad_id=-1,
        num_threads=os.cpu_count() or 1,
        minloglevel=2,
    )


def write_llama2c(model_file: str, bin_file: str) -> None:
    sp = spm.SentencePieceProcessor(model_file=model_file)
    assert (sp.unk_id(), sp.bos_id(), sp.eos_id()) == (0, 1, 2)
    pieces = []
    for i in range(sp.get_piece_size()):
        piece = sp.id_to_piece(i)
        if i == sp.bos_id():
            piece = "\n<s>\n"
        elif i == sp.eos_id():
            piece = "\n</s>\n"
        pieces.append((sp.get_score(i), piece.replace("\u2581", " ").encode("utf-8")))
    with open(bin_file, "wb") as f:
        f.write(struct.pack("<I", max(len(b) for _, b in pieces)))
        for score, text in pieces:
            f.write(struct.pack("<fI", score, len(text)))
            f.write(text)


def main() -> None:
    corpus, prefix = sys.argv[1], sys.argv[2]
    vocab_size = int(sys.argv[3]) if len(sys.argv) > 3 else 1024
    train(corpus, prefix, vocab_size)
    write_llama2c(prefix + ".model", prefix + ".bin")
    print(f"tokenizer: {vocab_size} pieces -> {prefix}.model, {prefix}.bin")


if __name__ == "__main__":
    main()
