/**
 * Bounded Levenshtein distance over symbol sequences (code points or word ids), used by the
 * semantic policy. Only the boolean "distance <= maxDist" enters a decision, so the search stops
 * as soon as the answer is known: a diagonal-transition (Ukkonen / Landau-Vishkin) walk that costs
 * O(n + d^2) on similar texts and never explores a diagonal that cannot finish within maxDist.
 * Integer arithmetic only.
 */

/** Unreachable marker for a diagonal; stays negative after the +1 of a transition. */
const DEAD = -0x40000000;

/**
 * Levenshtein distance (unit-cost insert, delete, substitute) between `a` and `b` when it is at
 * most `maxDist`; otherwise `maxDist + 1`. `maxDist` must be a non-negative integer.
 *
 * @example boundedEditDistance(codePoints("kitten"), codePoints("sitting"), 5) // 3
 * @example boundedEditDistance(codePoints("kitten"), codePoints("sitting"), 2) // 3 (= 2 + 1: exceeds)
 */
export function boundedEditDistance(a: Int32Array, b: Int32Array, maxDist: number): number {
  let aStart = 0;
  let bStart = 0;
  let aEnd = a.length;
  let bEnd = b.length;
  // A common prefix and suffix never costs an edit.
  while (aStart < aEnd && bStart < bEnd && a[aStart] === b[bStart]) {
    aStart++;
    bStart++;
  }
  while (aEnd > aStart && bEnd > bStart && a[aEnd - 1] === b[bEnd - 1]) {
    aEnd--;
    bEnd--;
  }
  // Walk the shorter sequence down the rows (the distance is symmetric).
  let rows = a;
  let cols = b;
  let rowStart = aStart;
  let colStart = bStart;
  let m = aEnd - aStart;
  let n = bEnd - bStart;
  if (m > n) {
    rows = b;
    cols = a;
    rowStart = bStart;
    colStart = aStart;
    [m, n] = [n, m];
  }
  const delta = n - m;
  if (delta > maxDist) return maxDist + 1;
  if (m === 0) return n;
  // The distance never exceeds the longer length.
  const limit = Math.min(maxDist, n);

  // reach[k + offset] = furthest row reached on diagonal k (column = row + k) with e edits.
  const offset = limit + 2;
  let prev = new Int32Array(2 * limit + 5).fill(DEAD);
  let cur = new Int32Array(2 * limit + 5).fill(DEAD);

  let row = 0;
  while (row < m && row < n && rows[rowStart + row] === cols[colStart + row]) row++;
  if (delta === 0 && row === m) return 0;
  prev[offset] = row;

  for (let e = 1; e <= limit; e++) {
    // Diagonal k is alive only while |k| <= e and e + |k - delta| <= limit (it must still finish).
    const lo = Math.max(-e, delta - (limit - e));
    const hi = Math.min(e, delta + (limit - e));
    for (let k = lo; k <= hi; k++) {
      const at = k + offset;
      const substitute = (prev[at] as number) + 1;
      const insert = prev[at - 1] as number;
      const remove = (prev[at + 1] as number) + 1;
      let r = substitute > insert ? substitute : insert;
      if (remove > r) r = remove;
      if (r < 0) {
        cur[at] = DEAD;
        continue;
      }
      if (r > m) r = m;
      if (r + k > n) r = n - k;
      let c = r + k;
      while (r < m && c < n && rows[rowStart + r] === cols[colStart + c]) {
        r++;
        c++;
      }
      cur[at] = r;
      if (k === delta && r === m) return e;
    }
    // Next round reads k in [lo - 2, hi + 2]: clear what this round did not write.
    cur[lo - 1 + offset] = DEAD;
    cur[lo - 2 + offset] = DEAD;
    cur[hi + 1 + offset] = DEAD;
    cur[hi + 2 + offset] = DEAD;
    [prev, cur] = [cur, prev];
  }
  return maxDist + 1;
}

/** Buckets the bag-distance histograms fold symbols into (symbol & 1023). */
export const HISTOGRAM_BUCKETS = 1024;

/** Symbol counts folded into `HISTOGRAM_BUCKETS` buckets, for `bagLowerBound`. */
export function histogram(symbols: Int32Array): Int32Array {
  const counts = new Int32Array(HISTOGRAM_BUCKETS);
  for (let i = 0; i < symbols.length; i++) {
    const bucket = (symbols[i] as number) & (HISTOGRAM_BUCKETS - 1);
    counts[bucket] = (counts[bucket] as number) + 1;
  }
  return counts;
}

/**
 * Lower bound on the edit distance from two `histogram`s (the bag distance: every edit changes the
 * counts by at most one each way). Folding symbols into buckets only merges counts, so the bound
 * stays a lower bound.
 */
export function bagLowerBound(a: Int32Array, b: Int32Array): number {
  let surplus = 0;
  let deficit = 0;
  for (let i = 0; i < HISTOGRAM_BUCKETS; i++) {
    const d = (a[i] as number) - (b[i] as number);
    if (d > 0) surplus += d;
    else deficit -= d;
  }
  return surplus > deficit ? surplus : deficit;
}

/** Code points of `text` (a Unicode "character" for unit "char"), as symbols. */
export function codePoints(text: string): Int32Array {
  const out = new Int32Array(text.length);
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const hi = text.charCodeAt(i);
    if (hi >= 0xd800 && hi <= 0xdbff && i + 1 < text.length) {
      const lo = text.charCodeAt(i + 1);
      if (lo >= 0xdc00 && lo <= 0xdfff) {
        out[n++] = ((hi - 0xd800) << 10) + (lo - 0xdc00) + 0x10000;
        i++;
        continue;
      }
    }
    out[n++] = hi;
  }
  return n === out.length ? out : out.slice(0, n);
}

/**
 * Words of an already whitespace-collapsed `text` as symbols, each distinct word mapped to one
 * integer by `dictionary` (shared by every text of one decision, so equal words get equal ids).
 */
export function wordSymbols(text: string, dictionary: Map<string, number>): Int32Array {
  if (text.length === 0) return new Int32Array(0);
  const words = text.split(" ");
  const out = new Int32Array(words.length);
  for (let i = 0; i < words.length; i++) {
    const word = words[i] as string;
    let id = dictionary.get(word);
    if (id === undefined) {
      id = dictionary.size;
      dictionary.set(word, id);
    }
    out[i] = id;
  }
  return out;
}

/**
 * The largest distance d with (len - d) * 1e6 >= thetaPpm * len, i.e. floor(len * (1e6 - theta) / 1e6),
 * computed without trusting a float division (corrected with exact integer products).
 */
export function maxDistanceWithin(len: number, thetaPpm: number): number {
  const slack = len * (1_000_000 - thetaPpm);
  let t = Math.floor(slack / 1_000_000);
  while (t > 0 && t * 1_000_000 > slack) t--;
  while ((t + 1) * 1_000_000 <= slack) t++;
  return t;
}

/** The normative test: a pair at distance d, longer length len, is within theta. */
export function isWithinTheta(distance: number, len: number, thetaPpm: number): boolean {
  return (len - distance) * 1_000_000 >= thetaPpm * len;
}

/**
 * Cost of one concrete alignment of `a` and `b` found by a diagonal-transition walk confined to
 * `2 * halfWidth + 1` diagonals around the furthest-reaching one (an adaptive band): an upper bound
 * on the edit distance, returned when it is at most `maxDist` (else `maxDist + 1`). On texts that
 * differ by scattered edits the band follows the true alignment and the bound is tight; when it is
 * not, the caller falls back to `boundedEditDistance`. Costs O(n + d * halfWidth).
 */
export function bandedUpperBound(a: Int32Array, b: Int32Array, maxDist: number, halfWidth: number): number {
  let rows = a;
  let cols = b;
  if (a.length > b.length) {
    rows = b;
    cols = a;
  }
  const m = rows.length;
  const n = cols.length;
  const delta = n - m;
  if (delta > maxDist) return maxDist + 1;
  if (m === 0) return n;
  const limit = Math.min(maxDist, n);
  const offset = limit + 2;
  let prev = new Int32Array(2 * limit + 5).fill(DEAD);
  let cur = new Int32Array(2 * limit + 5).fill(DEAD);

  let row = 0;
  while (row < m && row < n && rows[row] === cols[row]) row++;
  if (delta === 0 && row === m) return 0;
  prev[offset] = row;
  let centre = 0;

  for (let e = 1; e <= limit; e++) {
    let lo = Math.max(-e, delta - (limit - e), centre - halfWidth);
    let hi = Math.min(e, delta + (limit - e), centre + halfWidth);
    let bestFront = -1;
    for (let k = lo; k <= hi; k++) {
      const at = k + offset;
      const substitute = (prev[at] as number) + 1;
      const insert = prev[at - 1] as number;
      const remove = (prev[at + 1] as number) + 1;
      let r = substitute > insert ? substitute : insert;
      if (remove > r) r = remove;
      if (r < 0) {
        cur[at] = DEAD;
        continue;
      }
      if (r > m) r = m;
      if (r + k > n) r = n - k;
      let c = r + k;
      while (r < m && c < n && rows[r] === cols[c]) {
        r++;
        c++;
      }
      cur[at] = r;
      if (k === delta && r === m) return e;
      if (r + c > bestFront) {
        bestFront = r + c;
        centre = k;
      }
    }
    if (bestFront < 0) return maxDist + 1;
    // Outside the band nothing is reachable in this walk.
    cur[lo - 1 + offset] = DEAD;
    cur[hi + 1 + offset] = DEAD;
    for (let k = lo - 2; k >= lo - halfWidth - 2 && k + offset >= 0; k--) cur[k + offset] = DEAD;
    for (let k = hi + 2; k <= hi + halfWidth + 2 && k + offset < cur.length; k++) cur[k + offset] = DEAD;
    [prev, cur] = [cur, prev];
  }
  return maxDist + 1;
}
