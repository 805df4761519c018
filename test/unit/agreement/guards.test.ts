import { describe, expect, it } from "vitest";
import { GUARD_CLASSES, guardSignature, numberTokens, words } from "../../../src/agreement/guards.ts";
import type { GuardClass, GuardOptions } from "../../../src/agreement/guards.ts";
import { normalizeText } from "../../../src/agreement/similarity.ts";

/** Guards read the semantic@2 normalization of a text (NFC, lowercase, one space per run). */
const normalized = (text: string) => normalizeText(text, { caseFold: true });
const numbers = (text: string) => numberTokens(normalized(text));
const ALL: GuardOptions = { classes: new Set(GUARD_CLASSES), terms: [] };
const only = (guard: GuardClass, terms: string[][] = []): GuardOptions => ({ classes: new Set([guard]), terms });
const signature = (text: string, options: GuardOptions = ALL) => guardSignature(normalized(text), options);

describe("numberTokens", () => {
  it("removes thousands separators", () => {
    expect(numbers("$250,000")).toEqual(["250000"]);
    expect(numbers("1,000,000 units")).toEqual(["1000000"]);
    expect(numbers("1,234,567.890")).toEqual(["1234567.89"]);
    expect(numbers("the fee is $1,200.")).toEqual(["1200"]); // a sentence's full stop is no fraction
  });

  it("applies k, m, b, bn and thousand, million, billion exactly", () => {
    for (const text of ["250000", "$250,000", "250k", "250K", "250 thousand", "0.25m", "0.25 million", "250,000.000"]) {
      expect(numbers(text), text).toEqual(["250000"]);
    }
    for (const text of ["1.5bn", "1.5b", "1.5 billion", "1,500 million", "1500m", "1,500,000,000"]) {
      expect(numbers(text), text).toEqual(["1500000000"]);
    }
    expect(numbers("1.23456789k")).toEqual(["1234.56789"]);
    expect(numbers("0.000001m")).toEqual(["1"]);
    expect(numbers("0k")).toEqual(["0"]);
    expect(numbers("$1.2 Million")).toEqual(["1200000"]);
  });

  it("takes a multiplier only as a word of its own", () => {
    expect(numbers("5km")).toEqual(["5"]);
    expect(numbers("5kg")).toEqual(["5"]);
    expect(numbers("5 k")).toEqual(["5"]); // attached forms must be attached
    expect(numbers("5 thousands")).toEqual(["5"]);
    expect(numbers("5 millionaires")).toEqual(["5"]);
    expect(numbers("5 billion")).toEqual(["5000000000"]);
  });

  it("reads %, ' %' and the word percent alike, and keeps 5% apart from 0.05", () => {
    for (const text of ["5%", "5 %", "5 percent", "5 Percent", "5\u00a0%"]) expect(numbers(text), text).toEqual(["5%"]);
    expect(numbers("2.50%")).toEqual(["2.5%"]);
    expect(numbers("0.05")).toEqual(["0.05"]);
    expect(numbers("5 percentage points")).toEqual(["5"]);
    expect(numbers("5%")).not.toEqual(numbers("0.05"));
    expect(numbers("5%")).not.toEqual(numbers("5"));
  });

  it("keeps a sign right before the digits at the start, after a space or after (", () => {
    for (const text of ["-5", "change: -5", "(-5)", "\u22125", "a fall of \u22125"]) expect(numbers(text), text).toEqual(["-5"]);
    expect(numbers("-5%")).toEqual(["-5%"]);
    expect(numbers("-1.5k")).toEqual(["-1500"]);
    // A hyphen inside a word or between numbers is no sign.
    expect(numbers("x-5")).toEqual(["5"]);
    expect(numbers("5-3")).toEqual(["5", "3"]);
    expect(numbers("- 5")).toEqual(["5"]);
    // Zero has no sign.
    expect(numbers("-0")).toEqual(["0"]);
    expect(numbers("-0.00")).toEqual(["0"]);
    expect(numbers("-0k")).toEqual(["0"]);
  });

  it("reads a date as its parts, so another day is another set of tokens", () => {
    expect(numbers("2024-01-15")).toEqual(["2024", "1", "15"]);
    expect(numbers("15/01/2024")).toEqual(["15", "1", "2024"]);
    expect(new Set(numbers("2024-01-16"))).not.toEqual(new Set(numbers("2024-01-15")));
    expect(numbers("on 2024-01-15 at 10:30")).toEqual(["2024", "1", "15", "10", "30"]);
  });

  it("drops leading zeros and trailing fractional zeros, nothing else", () => {
    expect(numbers("1.50")).toEqual(["1.5"]);
    expect(numbers("1.0")).toEqual(["1"]);
    expect(numbers("10.00")).toEqual(["10"]);
    expect(numbers("100")).toEqual(["100"]);
    expect(numbers("0.50")).toEqual(["0.5"]);
    expect(numbers("007")).toEqual(["7"]);
    expect(numbers("000")).toEqual(["0"]);
    expect(numbers("00.5")).toEqual(["0.5"]);
    expect(numbers("0.0")).toEqual(["0"]);
    expect(numbers("1.05")).toEqual(["1.05"]);
  });

  it("skips no digit: a dotted version, lakh grouping or a decimal comma still reads every part", () => {
    // Each pair differs in one digit; before the fix both members read the same tokens.
    const pairs: [string, string][] = [
      ["version 1.2.3", "version 1.2.4"],
      ["10.0.0.1", "10.0.0.2"],
      ["\u20b91,23,456", "\u20b91,99,999"],
      ["1,5 million", "1,7 million"],
      ["1.000,50", "1.000,60"],
      ["1,2345", "1,2346"],
    ];
    for (const [a, b] of pairs) expect(new Set(numbers(a)), `${a} / ${b}`).not.toEqual(new Set(numbers(b)));
    expect(numbers("1.2.3")).toEqual(["1.2", "3"]);
    expect(numbers("1,23,456")).toEqual(["1", "23456"]);
    expect(numbers("1,2345")).toEqual(["1", "2345"]);
    expect(numbers("12,34")).toEqual(["12", "34"]);
  });

  it("finds numbers inside words and after currency symbols", () => {
    expect(numbers("h100 nodes")).toEqual(["100"]);
    expect(numbers("the 5th of may")).toEqual(["5"]);
    expect(numbers("\u20ac12.5m and $3")).toEqual(["12500000", "3"]);
    expect(numbers("no digits here")).toEqual([]);
  });
});

describe("polarity", () => {
  const polarity = (text: string) => signature(text, only("polarity"));

  it("reads yes, no, not, never, none, nothing, nobody, nowhere, neither, nor, true and false", () => {
    for (const word of ["yes", "no", "not", "never", "none", "nothing", "nobody", "nowhere", "neither", "nor", "true", "false"]) {
      expect(polarity(`It is ${word.toUpperCase()} here.`), word).toBe(`polarity:${word}`);
    }
  });

  it("reads cannot and every n't contraction as not", () => {
    for (const text of ["it does not", "it doesn't", "it doesn\u2019t", "it isn't", "it won't", "it can't", "it cannot", "it can not", "it ain't", "it shouldn\u2019t"]) {
      expect(polarity(text), text).toBe("polarity:not");
    }
    expect(polarity("It does not exceed the cap")).toBe(polarity("It doesn't exceed the cap"));
  });

  it("ignores words that only contain a polarity word", () => {
    expect(polarity("a note on another notable knot, yesterday, nonetheless truthful")).toBe("polarity:");
    expect(polarity("nothingness and untrue falsehoods")).toBe("polarity:");
  });

  it("is a set: repetition and order do not matter", () => {
    expect(polarity("no, no, not not")).toBe("polarity:no,not");
    expect(polarity("not ... no")).toBe(polarity("no ... not"));
  });
});

describe("direction", () => {
  const direction = (text: string) => signature(text, only("direction"));

  it("maps every listed form to one symbol per sense", () => {
    const senses: Record<string, string[]> = {
      up: ["increase", "increased", "increasing", "raise", "raised", "rise", "rose", "risen", "rising", "higher", "highest", "above", "exceed", "exceeds", "exceeding", "more", "greater", "gain", "gained", "gaining", "grow", "grew", "grown", "growing", "upward", "upwards"],
      down: ["decrease", "decreased", "reduce", "reducing", "lower", "lowered", "lowest", "fall", "fell", "fallen", "falling", "below", "less", "fewer", "drop", "dropped", "decline", "declining", "cut", "cutting", "loss", "losses", "downward"],
      buy: ["buy", "buys", "bought", "buying"],
      sell: ["sell", "sells", "sold", "selling"],
      long: ["long"],
      short: ["short"],
    };
    for (const [sense, forms] of Object.entries(senses)) {
      for (const form of forms) expect(direction(`Prices ${form.toUpperCase()} today`), form).toBe(`direction:${sense}`);
    }
  });

  it("tells the opposite senses apart and lists both when both occur", () => {
    expect(direction("rates increased")).not.toBe(direction("rates decreased"));
    expect(direction("buy the stock")).not.toBe(direction("sell the stock"));
    expect(direction("go long")).not.toBe(direction("go short"));
    expect(direction("more or less")).toBe("direction:down,up");
  });

  it("ignores words that only contain a direction word", () => {
    expect(direction("the cutlery moreover shortly belongs to a longer... no, to the buyer")).toBe("direction:");
  });
});

describe("terms", () => {
  const terms = (text: string, list: string[][]) => signature(text, only("terms", list));

  it("finds each term as whole words, case-insensitively, and names it by its index", () => {
    const list = [["approve"], ["reject"], ["new", "york"]];
    expect(terms("We APPROVE.", list)).toBe("terms:0");
    expect(terms("approve, then reject", list)).toBe("terms:0,1");
    expect(terms("offices in New   York city", list)).toBe("terms:2");
    expect(terms("reject in new york, approve", list)).toBe("terms:0,1,2");
  });

  it("does not find a term inside a longer word or a phrase out of order", () => {
    const list = [["approve"], ["new", "york"]];
    expect(terms("approved, disapprove, approves", list)).toBe("terms:");
    expect(terms("a new yorker", list)).toBe("terms:");
    expect(terms("york new", list)).toBe("terms:");
    expect(terms("new jersey and york", list)).toBe("terms:");
  });

  it("a swapped term changes the signature", () => {
    const list = [["alice"], ["bob"]];
    expect(terms("the payment goes to alice", list)).not.toBe(terms("the payment goes to bob", list));
  });
});

describe("guardSignature", () => {
  it("matches its documented example", () => {
    expect(guardSignature("no, the fee does not exceed $1,200.", { classes: new Set(GUARD_CLASSES), terms: [] })).toBe(
      "numbers:1200|polarity:no,not|direction:up|terms:",
    );
  });

  it("lists the active classes in one fixed order, whatever order the set has", () => {
    const text = "no, 5 more for alice";
    const options: GuardOptions = { classes: new Set<GuardClass>(["terms", "numbers"]), terms: [["alice"]] };
    expect(signature(text, options)).toBe("numbers:5|terms:0");
    expect(signature(text, { classes: new Set(), terms: [] })).toBe("");
  });

  it("sorts the distinct tokens of each class as text", () => {
    expect(signature("9, 10, 9 and 10", only("numbers"))).toBe("numbers:10,9");
  });

  it("equal for honest paraphrases that write the same facts differently", () => {
    const texts = [
      "No, the fee of $1,200 does not exceed the cap.",
      "The fee (1200 dollars) doesn't exceed the cap, no.",
      "no - a 1.2k fee does not exceed the cap",
    ];
    for (const text of texts) expect(signature(text), text).toBe(signature(texts[0] as string));
  });

  it("uses the word list it is given (the one semantic@2 already split)", () => {
    const text = normalized("No, it is not");
    expect(guardSignature(text, only("polarity"), words(text))).toBe("polarity:no,not");
    expect(guardSignature(text, only("polarity"), [])).toBe("polarity:");
  });
});

describe("words", () => {
  it("splits on anything but letters, marks and digits, joining across an inner apostrophe", () => {
    expect(words(normalized("Don't, O'Neill; isn\u2019t caf\u00e9 h100 'quoted' end'"))).toEqual([
      "don't",
      "o'neill",
      "isn\u2019t",
      "caf\u00e9",
      "h100",
      "quoted",
      "end",
    ]);
    expect(words("")).toEqual([]);
    expect(words("... -- !")).toEqual([]);
  });

  it("takes a number first, as one word: its normalized token", () => {
    expect(words(normalized("The fee is $1,200, or 1.2k; 5 percent, -3 and 2024-01-15"))).toEqual([
      "the",
      "fee",
      "is",
      "1200",
      "or",
      "1200",
      "5%",
      "-3",
      "and",
      "2024",
      "1",
      "15",
    ]);
    expect(words(normalized("5kg and 1.2.3"))).toEqual(["5", "kg", "and", "1.2", "3"]);
  });
});
