/**
 * One write per peer per turn of the event loop.
 *
 * Gossipsub hands every RPC to a peer's stream as soon as it is made, and each hand-off goes all
 * the way down at once: one yamux frame, one noise encryption, one socket write. Under load a node
 * makes many RPCs for the same peer in one turn (its own messages for several requests, forwards,
 * control), so most of that per-write cost is paid again and again for a few hundred bytes each.
 * Here the length-prefixed frames written to one peer during a turn are joined and sent as one
 * write when the turn ends (setImmediate): the bytes on the stream are exactly the same, in the
 * same order, only cut into fewer writes. An idle node waits for nothing (its turn ends at once).
 * Measured on five node processes and a pool on one 2-core machine (the saturation phase of
 * bench/network.bench.ts, two runs each): CPU per agreed request -30 to -45%, no change at 10
 * requests/s.
 *
 * Gossipsub 17 has no hook for this, so it wraps the outbound streams gossipsub keeps (its
 * `streamsOutbound` map, checked at start-up by `coalesceOutboundWrites`).
 */
import type { Stream } from "@libp2p/interface";

/** Frames held for one peer beyond this are sent at once (the stream's own buffer bound applies). */
export const COALESCE_MAX_BYTES = 256 * 1024;

/** What gossipsub's OutboundStream offers that is used here. */
export interface OutboundStreamLike {
  readonly rawStream: Pick<Stream, "send" | "abort" | "writeStatus">;
  pushPrefixed(frame: Uint8Array | Iterable<Uint8Array>): void;
  close(options?: unknown): Promise<void>;
}

/**
 * Makes `stream` join the frames pushed in one turn into one write. Pushing to a stream that is
 * no longer writable still throws at once (gossipsub then counts the RPC as not sent), and frames
 * held for a stream that stopped being writable are dropped; a send that fails when the turn ends
 * aborts the stream, as a failed write would have.
 */
export function coalesceWrites(stream: OutboundStreamLike): void {
  const { rawStream } = stream;
  const pushNow = stream.pushPrefixed.bind(stream);
  const closeNow = stream.close.bind(stream);
  let chunks: Uint8Array[] = [];
  let bytes = 0;
  const flush = (): void => {
    if (chunks.length === 0) return;
    const joined = chunks.length === 1 ? (chunks[0] as Uint8Array) : Buffer.concat(chunks, bytes);
    chunks = [];
    bytes = 0;
    // Closed or closing from elsewhere (a reset, a disconnect) since the frames were pushed: they
    // cannot be sent any more, and aborting would throw away what the stream is still draining.
    if (rawStream.writeStatus !== "writable") return;
    try {
      rawStream.send(joined);
    } catch (error) {
      rawStream.abort(error instanceof Error ? error : new Error(String(error)));
    }
  };
  stream.pushPrefixed = (frame) => {
    // Not writable: throws as before; frames still held are dropped when the turn ends.
    if (rawStream.writeStatus !== "writable") return pushNow(frame);
    if (chunks.length === 0) setImmediate(flush);
    for (const chunk of frame instanceof Uint8Array ? [frame] : frame) {
      chunks.push(chunk);
      bytes += chunk.byteLength;
    }
    if (bytes >= COALESCE_MAX_BYTES) flush();
  };
  stream.close = (options) => {
    flush();
    return closeNow(options);
  };
}

/**
 * Wraps every outbound stream gossipsub opens from now on. Throws if this gossipsub release
 * keeps its outbound streams elsewhere (so an upgrade fails loudly instead of going slow).
 */
export function coalesceOutboundWrites(router: object): void {
  const streams = (router as { streamsOutbound?: unknown }).streamsOutbound;
  if (!(streams instanceof Map)) throw new Error("@libp2p/gossipsub no longer keeps its outbound streams in streamsOutbound");
  const outbound = streams as Map<string, OutboundStreamLike>;
  const set = outbound.set.bind(outbound);
  outbound.set = (peer, stream) => {
    coalesceWrites(stream);
    return set(peer, stream);
  };
}
