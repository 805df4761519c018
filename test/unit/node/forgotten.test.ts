import { expect, it } from "vitest";
import { ForgottenRequests } from "../../../src/node/forgotten.ts";
import { taggedHash, toHex } from "../../../src/wire/hash.ts";
import type { CommitClose } from "../../../src/wire/types.ts";

const silent = { info() {}, warn() {} };
const close = (label: string, nodes: string[]) =>
  ({ t: "close", v: 1, chain: "c", request: taggedHash("forgotten-test", label), commitments: nodes.map((node) => ({ node, commitment: new Uint8Array(32) })), sig: new Uint8Array(64) }) as CommitClose;

it("asks for a forgotten request once, only when the close lists this node, one fetch at a time", async () => {
  const asked: string[] = [];
  let inFlight = 0;
  let most = 0;
  const releases: (() => void)[] = [];
  const forgotten = new ForgottenRequests({
    nodeId: "me",
    logger: silent,
    fetch: async (ids) => {
      inFlight++;
      most = Math.max(most, inFlight);
      asked.push(...ids.map(toHex));
      await new Promise<void>((resolve) => releases.push(resolve));
      inFlight--;
    },
  });
  forgotten.noteClose(close("a", ["x", "me"]));
  forgotten.noteClose(close("a", ["x", "me"]));
  forgotten.noteClose(close("b", ["x", "y"]));
  forgotten.noteClose(close("c", ["me"]));
  expect(asked).toEqual([toHex(taggedHash("forgotten-test", "a"))]);
  releases.shift()?.();
  await new Promise((resolve) => setTimeout(resolve, 0));
  expect(asked).toEqual([toHex(taggedHash("forgotten-test", "a")), toHex(taggedHash("forgotten-test", "c"))]);
  releases.shift()?.();
  await new Promise((resolve) => setTimeout(resolve, 0));
  expect(most).toBe(1);
});

it("keeps at most 64 waiting, and a failed fetch does not stop the rest", async () => {
  let calls = 0;
  const forgotten = new ForgottenRequests({
    nodeId: "me",
    logger: silent,
    fetch: async () => {
      calls++;
      if (calls === 1) throw new Error("peer gone");
    },
  });
  for (let i = 0; i < 100; i++) forgotten.noteClose(close(`many ${i}`, ["me"]));
  await new Promise((resolve) => setTimeout(resolve, 20));
  // The first started at once; 64 more queued behind it; the rest were dropped.
  expect(calls).toBe(65);
});

it("resumes open requests once each, in asks of at most 64, and a close for one of them asks nothing more", async () => {
  const asks: string[][] = [];
  const forgotten = new ForgottenRequests({
    nodeId: "me",
    logger: silent,
    fetch: async (ids) => void asks.push(ids.map(toHex)),
  });
  const ids = Array.from({ length: 70 }, (_, i) => taggedHash("forgotten-test", `open ${i}`));
  // The same id named twice (signed here, and open at a peer) is asked for once.
  forgotten.resume([...ids, ids[0] as Uint8Array]);
  await new Promise((resolve) => setTimeout(resolve, 0));
  expect(asks).toEqual([ids.slice(0, 64).map(toHex), ids.slice(64).map(toHex)]);
  forgotten.noteClose(close("open 0", ["me"]));
  forgotten.resume(ids.slice(0, 3));
  forgotten.resume([]);
  await new Promise((resolve) => setTimeout(resolve, 0));
  expect(asks).toHaveLength(2);
});
