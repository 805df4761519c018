/**
 * Catch-up (spec/06, "Catching up"): a peer that was down, typically a sequencer's pool after a
 * crash, asks connected peers for the messages they hold for some requests, over a direct stream
 * instead of gossip. Gossip cannot carry them again: every peer that saw a message drops a second
 * copy of the same bytes as a duplicate, and the mesh keeps only seconds of history.
 *
 *   protocol   /concord/{version}/{chain}/fetch
 *   frame      u32 big-endian length, then that many bytes
 *   ask        one frame: 1..MAX_FETCH_REQUESTS request ids, 32 bytes each
 *   answer     one frame holding a u32 (big-endian) count, then that many frames, each a
 *              message's canonical bytes; then the answering side closes the stream
 *
 *   protocol   /concord/{version}/{chain}/open (which requests to ask for, when none are known)
 *   ask        nothing
 *   answer     one frame: 0..MAX_FETCH_REQUESTS ids of requests whose deadline is ahead
 *
 * Every message that comes back goes through the same checks as one from gossip (decoded
 * strictly, then handed to the receiver, which verifies it), so a peer can answer with nothing
 * worse than what it could publish. Answers are bounded: what a peer keeps is bounded
 * (RecentMessages), and a reader refuses more frames or bytes than an honest answer can have.
 */
import type { Stream } from "@libp2p/interface";
import { lpStream, type LengthPrefixedStream } from "@libp2p/utils";
import { ConcordError, isConcordError } from "../errors.ts";
import { sha256, toHex } from "../wire/hash.ts";
import { requestIdOf } from "../wire/ids.ts";
import { HASH_BYTES, MAX_COMMITTEE, MAX_MESSAGE_BYTES } from "../wire/limits.ts";
import { decodeMessage } from "../wire/messages.ts";
import type { Bytes, Message, MessageKind } from "../wire/types.ts";
import type { NetMetrics } from "./metrics.ts";
import { TOPIC_PREFIX, TOPIC_VERSION } from "./topics.ts";

/** Most request ids one ask may name. */
export const MAX_FETCH_REQUESTS = 64;
/**
 * Most messages kept (and answered) per request: a request, n commitments, a close, n reveals or
 * outputs, bundles, no-agreements and evidence, with room to spare at the largest committee.
 */
export const MAX_MESSAGES_PER_REQUEST = 3 * MAX_COMMITTEE + 8;
/** How long one ask may take, from opening the stream to the last frame. */
export const DEFAULT_FETCH_TIMEOUT_MS = 5_000;
/** Peers a fetch asks by default: more than one, so one silent peer cannot withhold. */
export const DEFAULT_FETCH_PEERS = 4;
/** What a peer keeps by default, and so the most one answer may carry. */
export const MAX_FETCH_ANSWER_BYTES = 64 * 1024 * 1024;

export function fetchProtocol(chain: string): string {
  return `/${TOPIC_PREFIX}/${TOPIC_VERSION}/${chain}/fetch`;
}

/**
 * Open requests (spec/06): the asker opens the stream and writes nothing; the answerer writes one
 * frame of at most MAX_FETCH_REQUESTS request ids (32 bytes each), those it keeps whose deadline
 * is ahead, latest deadline first, and closes. The asker fetches them on fetchProtocol. With
 * subnets (registry S > 1) there is one such protocol per subnet, `…/s{subnet}/open`, answered
 * with that subnet's requests only: a peer of every subnet (a pool) would otherwise fill its 64
 * ids with requests the asker does not follow.
 */
export function openRequestsProtocol(chain: string, subnet?: number): string {
  return subnet === undefined ? `/${TOPIC_PREFIX}/${TOPIC_VERSION}/${chain}/open` : `/${TOPIC_PREFIX}/${TOPIC_VERSION}/${chain}/s${subnet}/open`;
}

export interface RecentMessagesLimits {
  /** Requests kept; the oldest (by first message) goes first. Default 4,096. */
  maxRequests?: number;
  /** Bytes of messages kept in all. Default 64 MiB. */
  maxBytes?: number;
}

/**
 * The messages a peer accepted or published lately, by request, in the order it had them:
 * what it answers a fetch with. Bounded by request count and bytes, oldest request first out.
 */
export class RecentMessages {
  readonly #byRequest = new Map<string, Bytes[]>();
  /** Deadlines of the kept requests whose request message is kept too. */
  readonly #deadlines = new Map<string, number>();
  readonly #maxRequests: number;
  readonly #maxBytes: number;
  #bytes = 0;

  constructor(limits: RecentMessagesLimits = {}) {
    this.#maxRequests = limits.maxRequests ?? 4_096;
    this.#maxBytes = limits.maxBytes ?? MAX_FETCH_ANSWER_BYTES;
  }

  get bytes(): number {
    return this.#bytes;
  }

  get requests(): number {
    return this.#byRequest.size;
  }

  /** Keeps `payload` under `request`; `deadline` when the payload is the request itself. */
  add(request: Bytes, payload: Bytes, deadline?: number): void {
    const key = toHex(request);
    let list = this.#byRequest.get(key);
    if (list === undefined) {
      list = [];
      this.#byRequest.set(key, list);
    }
    if (deadline !== undefined) this.#deadlines.set(key, deadline);
    if (list.length >= MAX_MESSAGES_PER_REQUEST || list.some((kept) => Buffer.compare(kept, payload) === 0)) return;
    // A copy: a payload from gossip can be a view into a much larger receive buffer, which
    // keeping the view would keep alive uncounted.
    list.push(new Uint8Array(payload));
    this.#bytes += payload.length;
    for (const [oldest, messages] of this.#byRequest) {
      if (this.#byRequest.size <= this.#maxRequests && this.#bytes <= this.#maxBytes) break;
      this.#byRequest.delete(oldest);
      this.#deadlines.delete(oldest);
      for (const message of messages) this.#bytes -= message.length;
    }
  }

  /** Kept requests whose deadline is after `now` (and that `wanted` keeps), latest deadline first, at most `limit`. */
  open(now: number, limit: number, wanted: (request: Bytes) => boolean = () => true): Bytes[] {
    return [...this.#deadlines]
      .filter(([, deadline]) => deadline > now)
      .map(([key, deadline]) => ({ key, deadline, id: new Uint8Array(Buffer.from(key, "hex")) }))
      .filter(({ id }) => wanted(id))
      .sort((a, b) => b.deadline - a.deadline || (a.key < b.key ? -1 : 1))
      .slice(0, limit)
      .map(({ id }) => id);
  }

  has(request: Bytes): boolean {
    return this.#byRequest.has(toHex(request));
  }

  get(request: Bytes): readonly Bytes[] {
    return this.#byRequest.get(toHex(request)) ?? [];
  }
}

/**
 * Frames on a fetch stream, with at most `maxBytes` in one. A fixed four-byte length: a varint
 * length made of continuation bytes would keep a reader waiting for its end instead of failing.
 */
export function fetchFrames(stream: Stream, maxBytes: number = MAX_MESSAGE_BYTES): LengthPrefixedStream<Stream> {
  return lpStream(stream, {
    maxDataLength: maxBytes,
    maxLengthLength: 4,
    maxBufferSize: maxBytes + 1024,
    lengthEncoder: u32,
    lengthDecoder: (data: { byteLength: number; subarray(start: number, end: number): Uint8Array }) => {
      if (data.byteLength < 4) throw new RangeError("a frame length is four bytes");
      return readU32(data.subarray(0, 4));
    },
  });
}

function readU32(bytes: Uint8Array): number {
  return new DataView(bytes.buffer, bytes.byteOffset, 4).getUint32(0);
}

function u32(value: number): Uint8Array {
  const bytes = new Uint8Array(4);
  new DataView(bytes.buffer).setUint32(0, value);
  return bytes;
}

/** Asks one peer may make a minute: a restarted pool with 1,000 open requests makes 16. */
export const MAX_ASKS_PER_PEER_MINUTE = 60;

/**
 * Counts asks per peer in fixed one-minute windows, so that one peer cannot make a node encrypt
 * and upload its whole cache over and over. The clock is passed in.
 */
export class AskLimiter {
  readonly #windows = new Map<string, { start: number; asks: number }>();
  readonly #now: () => number;
  readonly #limit: number;

  constructor(now: () => number, limit = MAX_ASKS_PER_PEER_MINUTE) {
    this.#now = now;
    this.#limit = limit;
  }

  /** Counts an ask from `peer`; false once it is over the limit in this minute. */
  allow(peer: string): boolean {
    const now = this.#now();
    let window = this.#windows.get(peer);
    if (window === undefined || now - window.start >= 60_000) {
      // Forget finished windows now and then: the map stays as small as the set of recent askers.
      if (this.#windows.size >= 1_024) for (const [key, old] of this.#windows) if (now - old.start >= 60_000) this.#windows.delete(key);
      window = { start: now, asks: 0 };
      this.#windows.set(peer, window);
    }
    return ++window.asks <= this.#limit;
  }
}

/**
 * Asks all the identities behind one IP may make a minute, known peers aside: two peers' worth.
 * Peer ids are free, so a limit per peer id alone let one host pull a node's cache again and again
 * (366 MB in a minute).
 */
export const MAX_ASKS_PER_IP_MINUTE = 2 * MAX_ASKS_PER_PEER_MINUTE;

/** Why an ask is refused: "rate" is the asker's own limit, the others are defences (defences.ts). */
export type AskRefusal = "rate" | "fetch-score" | "fetch-ip-budget";

export interface AskGateInit {
  now: () => number;
  /** The asker's gossip score, and the least it must have (the gossip threshold: below it, gossipsub itself serves no IWANT). */
  score(peer: string): number;
  minScore: number;
  /** The asker's IP, if its transport has one. */
  ipOf(peer: string): string | undefined;
  /** Known peers (bootstrap, whitelist): not held to the per-IP budget. */
  exempt(peer: string): boolean;
}

/**
 * Who may ask (spec/06, "Catching up"): a peer whose score is at least the gossip threshold,
 * within its own asks a minute, and within its IP's (unless it is a known peer).
 */
export class AskGate {
  readonly #init: AskGateInit;
  readonly #perPeer: AskLimiter;
  readonly #perIp: AskLimiter;

  constructor(init: AskGateInit) {
    this.#init = init;
    this.#perPeer = new AskLimiter(init.now, MAX_ASKS_PER_PEER_MINUTE);
    this.#perIp = new AskLimiter(init.now, MAX_ASKS_PER_IP_MINUTE);
  }

  /** Counts an ask from `peer`; undefined when it may be answered, else why not. */
  admit(peer: string): AskRefusal | undefined {
    if (this.#init.score(peer) < this.#init.minScore) return "fetch-score";
    if (!this.#perPeer.allow(peer)) return "rate";
    const ip = this.#init.ipOf(peer);
    if (ip !== undefined && !this.#init.exempt(peer) && !this.#perIp.allow(ip)) return "fetch-ip-budget";
    return undefined;
  }
}

const fetchError = (details: string) => new ConcordError("FETCH_FAILED", "catch-up fetch failed", { details });

/** Answers one ask on `stream` from `recent`, then closes it; false if it aborted the stream (a bad ask, a timeout). */
export async function answerFetch(stream: Stream, recent: RecentMessages, timeoutMs = DEFAULT_FETCH_TIMEOUT_MS): Promise<boolean> {
  const signal = AbortSignal.timeout(timeoutMs);
  const frames = fetchFrames(stream, MAX_FETCH_REQUESTS * HASH_BYTES);
  try {
    const ask = (await frames.read({ signal })).subarray();
    if (ask.length === 0 || ask.length % HASH_BYTES !== 0) throw fetchError(`an ask of ${ask.length} bytes`);
    const payloads: Bytes[] = [];
    let bytes = 0;
    for (let at = 0; at < ask.length; at += HASH_BYTES) {
      for (const payload of recent.get(ask.subarray(at, at + HASH_BYTES))) {
        // Never more than an asker takes (a peer configured to keep more sends the oldest part).
        if ((bytes += payload.length) > MAX_FETCH_ANSWER_BYTES) break;
        payloads.push(payload);
      }
    }
    await frames.writeV([u32(payloads.length), ...payloads], { signal });
    await stream.close({ signal });
    return true;
  } catch (error) {
    stream.abort(error instanceof Error ? error : new Error(String(error)));
    return false;
  }
}

/** Answers an open-requests ask on `stream` (opened on openRequestsProtocol) from `recent`; false if it failed. */
export async function answerOpenRequests(stream: Stream, recent: RecentMessages, now: number, wanted?: (request: Bytes) => boolean, timeoutMs = DEFAULT_FETCH_TIMEOUT_MS): Promise<boolean> {
  const signal = AbortSignal.timeout(timeoutMs);
  try {
    const ids = recent.open(now, MAX_FETCH_REQUESTS, wanted);
    await fetchFrames(stream).write(Buffer.concat(ids), { signal });
    await stream.close({ signal });
    return true;
  } catch (error) {
    stream.abort(error instanceof Error ? error : new Error(String(error)));
    return false;
  }
}

/** Reads the ids an open-requests answer names on `stream`, unchecked (a fetch checks what they bring). */
export async function askOpenRequests(stream: Stream, timeoutMs = DEFAULT_FETCH_TIMEOUT_MS): Promise<Bytes[]> {
  const signal = AbortSignal.timeout(timeoutMs);
  try {
    const answer = (await fetchFrames(stream, MAX_FETCH_REQUESTS * HASH_BYTES).read({ signal })).subarray();
    if (answer.length % HASH_BYTES !== 0) throw fetchError(`an open-requests answer of ${answer.length} bytes`);
    await stream.close({ signal });
    const ids: Bytes[] = [];
    for (let at = 0; at < answer.length; at += HASH_BYTES) ids.push(answer.slice(at, at + HASH_BYTES));
    return ids;
  } catch (error) {
    stream.abort(error instanceof Error ? error : new Error(String(error)));
    throw error instanceof ConcordError ? error : fetchError(error instanceof Error ? error.message : String(error));
  }
}

/**
 * Asks for the messages held for `requests` on `stream` (opened on fetchProtocol) and returns
 * their bytes, unchecked: the caller checks each one as it would a gossip message.
 */
export async function askFetch(stream: Stream, requests: readonly Bytes[], timeoutMs = DEFAULT_FETCH_TIMEOUT_MS): Promise<Bytes[]> {
  if (requests.length === 0 || requests.length > MAX_FETCH_REQUESTS) throw fetchError(`${requests.length} request ids in one ask`);
  const signal = AbortSignal.timeout(timeoutMs);
  const frames = fetchFrames(stream);
  try {
    const ask = new Uint8Array(requests.length * HASH_BYTES);
    requests.forEach((id, i) => {
      if (id.length !== HASH_BYTES) throw fetchError(`a request id of ${id.length} bytes`);
      ask.set(id, i * HASH_BYTES);
    });
    await frames.write(ask, { signal });
    const header = (await frames.read({ signal })).subarray();
    if (header.length !== 4) throw fetchError(`an answer header of ${header.length} bytes`);
    const count = readU32(header);
    if (count > requests.length * MAX_MESSAGES_PER_REQUEST) throw fetchError(`${count} messages for ${requests.length} requests`);
    const payloads: Bytes[] = [];
    let bytes = 0;
    for (let i = 0; i < count; i++) {
      const payload = (await frames.read({ signal })).subarray();
      if ((bytes += payload.length) > MAX_FETCH_ANSWER_BYTES) throw fetchError(`an answer over ${MAX_FETCH_ANSWER_BYTES} bytes`);
      payloads.push(payload);
    }
    await stream.close({ signal });
    return payloads;
  } catch (error) {
    stream.abort(error instanceof Error ? error : new Error(String(error)));
    throw error instanceof ConcordError ? error : fetchError(error instanceof Error ? error.message : String(error));
  }
}

/** What a catch-up fetch brought. */
export interface FetchResult {
  /** Peers that answered. */
  peers: number;
  /** Messages received, and those of them the receiver accepted (the rest: duplicates, stale, invalid). */
  received: number;
  accepted: number;
  /**
   * Requests no peer answered for: no peer answered in time, or past the asks a peer answers a
   * minute (MAX_ASKS_PER_PEER_MINUTE asks of MAX_FETCH_REQUESTS ids). Ask again later.
   */
  unanswered: Bytes[];
}

/** What fetchFromPeers needs of the network it runs on (ConcordNetwork passes its gossip node's). */
export interface FetchContext {
  peers?: number;
  timeoutMs?: number;
  subscribers(): string[];
  score(peer: string): number;
  openStream(peer: string, signal: AbortSignal): Promise<Stream>;
  /** Hands a decoded message to the receiver as if gossip had brought it; throws to refuse it. */
  deliver(message: Message, payload: Bytes, peer: string): void;
  stopped(): boolean;
  logger: { debug(fields: object, message: string): void; warn(fields: object, message: string): void };
  metrics: NetMetrics | undefined;
}

/** The order the protocol runs in: answers are applied in it (a close needs its commitments first). */
const PROTOCOL_ORDER: Record<MessageKind, number> = {
  request: 0,
  commitment: 1,
  close: 2,
  reveal: 3,
  output: 3,
  bundle: 4,
  "no-agreement": 5,
  equivocation: 5,
};

/**
 * The best-scored subscribed peers (a peer that sent invalid messages is not asked before honest
 * ones), after giving subscriptions up to `timeoutMs` to arrive when there are none yet.
 */
async function peersToAsk(context: Pick<FetchContext, "peers" | "subscribers" | "score" | "stopped">, timeoutMs: number): Promise<string[]> {
  const waitUntil = Date.now() + timeoutMs;
  while (context.subscribers().length === 0 && Date.now() < waitUntil && !context.stopped()) {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return context
    .subscribers()
    .sort((a, b) => context.score(b) - context.score(a))
    .slice(0, context.peers ?? DEFAULT_FETCH_PEERS);
}

/**
 * Asks the best-scored subscribed peers for their open requests (openRequestsProtocol) and
 * returns every id named, once each, in the order first named. A peer that does not answer,
 * or answers junk, is skipped; the ids are unchecked until a fetch brings their messages.
 */
export async function openRequestsFromPeers(context: Omit<FetchContext, "deliver">): Promise<Bytes[]> {
  const timeoutMs = context.timeoutMs ?? DEFAULT_FETCH_TIMEOUT_MS;
  const peers = await peersToAsk(context, timeoutMs);
  const answers = await Promise.all(
    peers.map(async (peer) => {
      try {
        return await askOpenRequests(await context.openStream(peer, AbortSignal.timeout(timeoutMs)), timeoutMs);
      } catch (error) {
        context.logger.debug({ peer, error: String(error) }, "open-requests ask failed");
        return [];
      }
    }),
  );
  const ids = new Map<string, Bytes>();
  for (const id of answers.flat()) if (!ids.has(toHex(id))) ids.set(toHex(id), id);
  return [...ids.values()];
}

/**
 * The asking side of a catch-up (ConcordNetwork.fetch): asks the best-scored subscribed peers
 * for `requests`, batch by batch, and applies what comes back.
 */
export async function fetchFromPeers(requests: readonly Bytes[], context: FetchContext): Promise<FetchResult> {
  const { logger, metrics } = context;
  const timeoutMs = context.timeoutMs ?? DEFAULT_FETCH_TIMEOUT_MS;
  const result: FetchResult = { peers: 0, received: 0, accepted: 0, unanswered: [] };
  if (requests.length === 0) return result;
  const peers = await peersToAsk(context, timeoutMs);
  const asked = new Set(requests.map(toHex));
  const seen = new Set<string>();
  // Answers arrive concurrently and are applied one at a time, each in protocol order, so a
  // message every peer sends is checked once.
  let applying = Promise.resolve();
  const apply = async (peer: string, payloads: readonly Bytes[]) => {
    const messages: { message: Message; payload: Bytes }[] = [];
    for (const payload of payloads) {
      const key = toHex(sha256(payload));
      let kept = false;
      if (!seen.has(key)) {
        seen.add(key);
        try {
          // The strict decode gossip's validators run, the kind read from the message.
          const message = decodeMessage(payload);
          // Only what was asked for: an answer cannot push other requests' messages.
          kept = asked.has(toHex(requestIdOf(message)));
          if (kept) messages.push({ message, payload });
        } catch {
          // Undecodable: received, not accepted.
        }
      }
      if (!kept) metrics?.fetched.inc({ result: "ignored" });
    }
    messages.sort((a, b) => PROTOCOL_ORDER[a.message.t] - PROTOCOL_ORDER[b.message.t]);
    for (const [i, { message, payload }] of messages.entries()) {
      try {
        context.deliver(message, payload, peer);
        result.accepted++;
        metrics?.fetched.inc({ result: "accepted" });
      } catch (error) {
        metrics?.fetched.inc({ result: "ignored" });
        // As from gossip: a receiver's own bug ignores the message, it does not end the fetch.
        if (!isConcordError(error)) logger.warn({ peer, kind: message.t, error: String(error) }, "fetched message failed unexpectedly");
      }
      // Checking is synchronous: let the event loop breathe between batches.
      if (i % 16 === 15) await new Promise((resolve) => setImmediate(resolve));
    }
  };
  // Batches of ids, each asked of every peer; a batch no peer answered is reported back.
  const batches: Bytes[][] = [];
  for (let at = 0; at < requests.length; at += MAX_FETCH_REQUESTS) batches.push(requests.slice(at, at + MAX_FETCH_REQUESTS));
  const answeredBatches = new Set<number>();
  await Promise.all(
    peers.map(async (peer) => {
      let answered = false;
      // No more asks than a peer answers in a minute: the rest would be refused.
      for (let batch = 0; batch < Math.min(batches.length, MAX_ASKS_PER_PEER_MINUTE) && !context.stopped(); batch++) {
        let payloads: Bytes[];
        try {
          const stream = await context.openStream(peer, AbortSignal.timeout(timeoutMs));
          payloads = await askFetch(stream, batches[batch] as Bytes[], timeoutMs);
        } catch (error) {
          logger.debug({ peer, error: String(error) }, "catch-up fetch failed");
          return;
        }
        if (!answered) result.peers++;
        answered = true;
        answeredBatches.add(batch);
        result.received += payloads.length;
        // Each ask's answer is applied before the next ask: one answer in memory at a time.
        applying = applying.then(() => apply(peer, payloads)).catch((error: unknown) => logger.warn({ peer, error: String(error) }, "applying a fetched answer failed"));
        await applying;
      }
    }),
  );
  result.unanswered = batches.filter((_, batch) => !answeredBatches.has(batch)).flat();
  return result;
}
