/**
 * The fuzz loop, run in a worker thread so the test can time-box it (a synchronous hang cannot
 * be interrupted in-process). Feeds mutated encodings of every message kind to decodeMessage as
 * every kind, and whatever decodes to the function that would consume it: openRequest, the
 * collector's add* methods, verifyBundle, verifyEquivocation, verifyMessage. Reports failures:
 * a throw that is not a ConcordError, a call over the per-call time limit, a decoded message
 * whose canonical encoding is not the input, or a mutated message that is accepted although it
 * differs from every valid message the fuzzer started from.
 */
import { parentPort, workerData } from "node:worker_threads";
import { decode as cborDecode, encode as cborEncode, rfc8949EncodeOptions } from "cborg";
import { verifyMessage } from "../../src/crypto/sign.ts";
import { isConcordError } from "../../src/errors.ts";
import { signClose } from "../../src/quorum/attest.ts";
import { Collector } from "../../src/quorum/collector.ts";
import { verifyEquivocation } from "../../src/quorum/equivocation.ts";
import { openRequest, type RequestContext } from "../../src/quorum/rules.ts";
import { verifyBundle } from "../../src/quorum/verify.ts";
import { toHex } from "../../src/wire/hash.ts";
import { commitmentOfReveal, requestId } from "../../src/wire/ids.ts";
import { decodeMessage, encodeMessage, MESSAGE_KINDS } from "../../src/wire/messages.ts";
import type { CommitClose, InferenceRequest, Message, MessageKind } from "../../src/wire/types.ts";
import { bundleCases, sampleMessages, sampleNetwork } from "../spec/samples.ts";
import { batchedRun } from "../helpers/batches.ts";
import { testRequest } from "../helpers/fixtures.ts";
import { mulberry32 } from "../../src/sim/prng.ts";

export interface FuzzOptions {
  seed: number;
  inputs: number;
  /** A single call slower than this (ms) is reported as a hang. */
  maxCallMs: number;
  /** Share of inputs made by editing the decoded value and re-encoding it canonically. */
  structuralShare: number;
}

export interface FuzzReport {
  inputs: number;
  decodeCalls: number;
  decodedByKind: Record<string, number>;
  acceptedByKind: Record<string, number>;
  /** Codes thrown, by code. */
  codes: Record<string, number>;
  /** Inputs that decoded but changed nothing (mutations that cancelled out). */
  unchanged: number;
  slowestCallMs: number;
  failures: { problem: string; hex: string }[];
}

/** Bytes that matter to CBOR: headers of every major type at each length width, break, floats. */
const INTERESTING = [0x00, 0x01, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1f, 0x20, 0x38, 0x40, 0x58, 0x5f, 0x60, 0x78, 0x7f, 0x80, 0x98, 0x9f, 0xa0, 0xb8, 0xbf, 0xc0, 0xc2, 0xd8, 0xf4, 0xf5, 0xf6, 0xf7, 0xf9, 0xfa, 0xfb, 0xff];

export function runFuzz(options: FuzzOptions): FuzzReport {
  const random = mulberry32(options.seed);
  const int = (n: number) => Math.floor(random() * n);
  const net = sampleNetwork();
  const samples = sampleMessages(net);
  const bundles = bundleCases(net).filter((c) => c.code === undefined).map((c) => ({ name: c.name, message: c.bundle as Message }));
  // The same requests with every signature a batch signature (spec/04): their second field form.
  const batched = [batchedRun(net, testRequest(net), 5), batchedRun(net, testRequest(net, { mode: "direct" }), 5)].flatMap((run) =>
    [...run.commitments, ...run.outputs, ...run.reveals, ...(run.close ? [run.close] : []), ...(run.bundle ? [run.bundle] : [])].map((message, i) => ({ name: `batch-signed-${message.t}-${i}`, message: message as Message })),
  );
  const seeds = [...samples, ...bundles, ...batched].map(({ name, message }) => ({ name, kind: message.t, bytes: encodeMessage(message) }));

  // Everything the fuzzer knows to be valid, by canonical hex: accepted messages must be among them.
  const known = new Set<string>();
  const remember = (message: Message) => known.add(toHex(encodeMessage(message)));
  const knownRequestIds = new Set<string>();
  for (const { message } of [...samples, ...bundles, ...batched]) {
    remember(message);
    if (message.t === "request") knownRequestIds.add(toHex(requestId(message)));
    if (message.t === "bundle") {
      if (message.request.sig) remember(message.request as InferenceRequest);
      knownRequestIds.add(toHex(requestId(message.request)));
      if (message.close) remember(message.close);
      for (const part of [...message.reveals, ...message.outputs]) remember(part);
    }
    if (message.t === "equivocation") [message.first, message.second].forEach(remember);
  }

  const find = (name: string) => samples.find((s) => s.name === name)?.message;
  const request = find("request") as InferenceRequest;
  const directRequest = find("request-direct") as InferenceRequest;
  const context = openRequest(request, net.registry, net.policies);
  const directContext = openRequest(directRequest, net.registry, net.policies);
  const close = find("close") as CommitClose;
  const reveals = samples.flatMap((s) => (s.message.t === "reveal" ? [s.message] : []));
  // A second close (different listed set) signed by the sequencer, so mutated closes have two targets.
  const closeOfReveals = signClose(net.sequencer, request.chain, context.id, reveals.map(commitmentOfReveal));
  remember(closeOfReveals);

  const contextFor = (message: { request: Uint8Array }): RequestContext =>
    toHex(message.request) === directContext.idHex ? directContext : context;

  /** Hands a decoded message to its consumer; true iff it was accepted. */
  function consume(message: Message): boolean {
    switch (message.t) {
      case "request":
        openRequest(message, net.registry, net.policies);
        return known.has(toHex(encodeMessage(message))) || fail("accepted an unknown request", message);
      case "commitment":
        new Collector(contextFor(message), { keys: net.registry }).addCommitment(message, 1);
        return known.has(toHex(encodeMessage(message))) || fail("accepted an unknown commitment", message);
      case "close":
        new Collector(contextFor(message), { keys: net.registry }).addClose(message, 2);
        return known.has(toHex(encodeMessage(message))) || fail("accepted an unknown close", message);
      case "reveal": {
        const collector = new Collector(context, { keys: net.registry });
        collector.addClose(close, 2);
        collector.addReveal(message, 3);
        return known.has(toHex(encodeMessage(message))) || fail("accepted an unknown reveal", message);
      }
      case "output":
        new Collector(directContext, { keys: net.registry }).addOutput(message, 1);
        return known.has(toHex(encodeMessage(message))) || fail("accepted an unknown signed output", message);
      case "bundle": {
        verifyBundle(message, net.registry, net.policies);
        // A bundle is an aggregate: any subset of known reveals that still agrees is a valid
        // bundle. What must never happen is a signed part that is not one of the known ones.
        // In commit-reveal mode the bundle carries the request body only (the close signs the
        // request id), so there only the request id has to be known.
        const parts: Message[] = [...message.reveals, ...message.outputs, ...(message.close ? [message.close] : [])];
        const requestKnown =
          message.request.mode === "direct"
            ? known.has(toHex(encodeMessage(message.request as InferenceRequest)))
            : knownRequestIds.has(toHex(requestId(message.request)));
        const partsKnown = parts.every((part) => known.has(toHex(encodeMessage(part))));
        return (requestKnown && partsKnown) || fail("accepted a bundle with an unknown signed part", message);
      }
      case "equivocation":
        verifyEquivocation(message, net.registry);
        return (known.has(toHex(encodeMessage(message.first))) && known.has(toHex(encodeMessage(message.second)))) || fail("accepted evidence built from unknown messages", message);
      case "no-agreement":
        if (!verifyMessage(net.registry.sequencer, message)) return false;
        return known.has(toHex(encodeMessage(message))) || fail("accepted an unknown no-agreement", message);
    }
  }

  const report: FuzzReport = { inputs: 0, decodeCalls: 0, decodedByKind: {}, acceptedByKind: {}, codes: {}, unchanged: 0, slowestCallMs: 0, failures: [] };
  let current: Uint8Array = new Uint8Array(0);
  function fail(problem: string, message?: Message): false {
    if (report.failures.length < 20) report.failures.push({ problem: message ? `${problem} (${message.t})` : problem, hex: toHex(current) });
    return false;
  }
  const bump = (table: Record<string, number>, key: string) => {
    table[key] = (table[key] ?? 0) + 1;
  };

  /** Runs `fn`, classifying what it throws and timing it. Returns its result, or undefined. */
  function guarded<T>(what: string, fn: () => T): T | undefined {
    const start = performance.now();
    try {
      return fn();
    } catch (error) {
      if (isConcordError(error)) bump(report.codes, error.code);
      else fail(`${what} threw an untyped ${(error as Error)?.name ?? typeof error}: ${String((error as Error)?.message ?? error).slice(0, 120)}`);
      return undefined;
    } finally {
      const elapsed = performance.now() - start;
      if (elapsed > report.slowestCallMs) report.slowestCallMs = elapsed;
      if (elapsed > options.maxCallMs) fail(`${what} took ${elapsed.toFixed(0)} ms`);
    }
  }

  function exercise(bytes: Uint8Array, original: Uint8Array | undefined): void {
    current = bytes;
    report.inputs++;
    const consumed = new Set<MessageKind>();
    for (const kind of [undefined, ...MESSAGE_KINDS]) {
      report.decodeCalls++;
      const message = guarded(`decodeMessage(${kind ?? "any"})`, () => (kind === undefined ? decodeMessage(bytes) : decodeMessage(bytes, kind)));
      if (!message) continue;
      if (kind !== undefined && message.t !== kind) fail(`decodeMessage(${kind}) returned a ${message.t}`);
      // Whatever decodes was the canonical encoding of what it decoded to, byte for byte.
      if (toHex(encodeMessage(message)) !== toHex(bytes)) fail("decoded bytes that are not the canonical encoding", message);
      if (consumed.has(message.t)) continue;
      consumed.add(message.t);
      bump(report.decodedByKind, message.t);
      if (original && toHex(bytes) === toHex(original)) report.unchanged++;
      if (guarded(`consume(${message.t})`, () => consume(message))) bump(report.acceptedByKind, message.t);
    }
  }

  function mutate(source: Uint8Array): Uint8Array {
    let bytes = Uint8Array.from(source);
    const rounds = 1 + int(3);
    for (let r = 0; r < rounds; r++) {
      const at = int(bytes.length + 1);
      switch (int(9)) {
        case 0:
        case 1: {
          // Bit flips.
          if (bytes.length === 0) break;
          const flips = 1 + int(4);
          for (let i = 0; i < flips; i++) {
            const index = int(bytes.length);
            bytes[index] = (bytes[index] as number) ^ (1 << int(8));
          }
          break;
        }
        case 2:
          // One byte set to a random or a CBOR-significant value.
          if (bytes.length > 0) bytes[int(bytes.length)] = random() < 0.5 ? int(256) : (INTERESTING[int(INTERESTING.length)] as number);
          break;
        case 3: {
          // Insert 1-8 bytes.
          const extra = Uint8Array.from({ length: 1 + int(8) }, () => (random() < 0.5 ? int(256) : (INTERESTING[int(INTERESTING.length)] as number)));
          bytes = Uint8Array.of(...bytes.subarray(0, at), ...extra, ...bytes.subarray(at));
          break;
        }
        case 4: {
          // Delete 1-8 bytes.
          const count = 1 + int(8);
          bytes = Uint8Array.of(...bytes.subarray(0, at), ...bytes.subarray(Math.min(bytes.length, at + count)));
          break;
        }
        case 5:
          // Truncate.
          bytes = bytes.subarray(0, int(bytes.length));
          break;
        case 6: {
          // Splice: a prefix of this one and a suffix of another seed.
          const other = (seeds[int(seeds.length)] as (typeof seeds)[number]).bytes;
          bytes = Uint8Array.of(...bytes.subarray(0, at), ...other.subarray(int(other.length)));
          break;
        }
        case 7: {
          // Duplicate a range in place.
          const start = int(bytes.length);
          const end = Math.min(bytes.length, start + 1 + int(40));
          bytes = Uint8Array.of(...bytes.subarray(0, end), ...bytes.subarray(start, end), ...bytes.subarray(end));
          break;
        }
        case 8: {
          // Overwrite a range with the same-length range of another seed (keeps lengths plausible).
          const other = (seeds[int(seeds.length)] as (typeof seeds)[number]).bytes;
          const from = int(other.length);
          const length = Math.min(1 + int(32), other.length - from, bytes.length - Math.min(at, bytes.length));
          if (length > 0) bytes.set(other.subarray(from, from + length), Math.min(at, bytes.length - length));
          break;
        }
      }
    }
    return bytes;
  }

  /** A value drawn to replace a field: edge integers, texts, byte strings of telling lengths. */
  function randomValue(): unknown {
    switch (int(8)) {
      case 0:
        return [0, 1, 2, 5, 7, 23, 24, 64, 65, 255, 256, 65535, 2 ** 32 - 1, 2 ** 32, Number.MAX_SAFE_INTEGER, -1][int(16)];
      case 1:
        return ["", "node-00", "node-99", "concord-test", "other-chain", "exact", "direct", "commit-reveal", "Paris", "Lyon", "x".repeat(int(70))][int(11)];
      case 2:
        return Uint8Array.from({ length: [0, 1, 31, 32, 33, 63, 64, 65, 66][int(9)] as number }, () => int(256));
      case 3:
        return random() < 0.5;
      case 4:
        return [];
      case 5:
        return {};
      case 6:
        return null;
      default:
        return 1.5;
    }
  }

  /** Every (container, key) pair inside a decoded CBOR value. */
  function slots(value: unknown, out: [Record<string, unknown> | unknown[], string | number][] = []): typeof out {
    if (Array.isArray(value)) value.forEach((item, i) => (out.push([value, i]), slots(item, out)));
    else if (typeof value === "object" && value !== null && !(value instanceof Uint8Array)) {
      for (const [key, item] of Object.entries(value)) {
        out.push([value as Record<string, unknown>, key]);
        slots(item, out);
      }
    }
    return out;
  }

  /** A structure-aware mutation: edit the decoded value, then write it canonically again. */
  function mutateStructure(source: Uint8Array): Uint8Array {
    const value = cborDecode(source, { useMaps: false }) as Record<string, unknown>;
    const rounds = 1 + int(2);
    for (let r = 0; r < rounds; r++) {
      const all = slots(value);
      const [container, key] = all[int(all.length)] as (typeof all)[number];
      const action = int(6);
      if (Array.isArray(container)) {
        const index = key as number;
        if (action === 0) container.splice(index, 1);
        else if (action === 1) container.splice(index, 0, container[index]);
        else if (action === 2) container.reverse();
        else container[index] = randomValue();
        continue;
      }
      const name = key as string;
      if (action === 0) delete container[name];
      else if (action === 1) container[`${name}x`] = container[name];
      else if (action === 2) {
        // A field taken from the same path of another seed (valid in itself, wrong here).
        const other = cborDecode((seeds[int(seeds.length)] as (typeof seeds)[number]).bytes, { useMaps: false }) as Record<string, unknown>;
        if (Object.hasOwn(other, name)) container[name] = other[name];
      } else container[name] = randomValue();
    }
    return cborEncode(value, rfc8949EncodeOptions);
  }

  // The unmutated seeds first: the harness must accept what is valid, or "nothing accepted" means nothing.
  for (const seed of seeds) exercise(seed.bytes, undefined);
  const baseline = { ...report.acceptedByKind };
  for (const kind of MESSAGE_KINDS) if (!baseline[kind]) fail(`harness accepts no valid ${kind}`);

  while (report.inputs < options.inputs) {
    if (random() < 0.02) {
      exercise(Uint8Array.from({ length: int(300) }, () => int(256)), undefined);
      continue;
    }
    const seed = seeds[int(seeds.length)] as (typeof seeds)[number];
    exercise(random() < options.structuralShare ? mutateStructure(seed.bytes) : mutate(seed.bytes), seed.bytes);
  }
  return report;
}

if (parentPort && workerData) {
  parentPort.postMessage(runFuzz(workerData as FuzzOptions));
}
