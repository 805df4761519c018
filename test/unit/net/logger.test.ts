import { describe, expect, it } from "vitest";
import { Writable } from "node:stream";
import { pino } from "pino";
import type { NetLogger } from "../../../src/net/logger.ts";

describe("NetLogger", () => {
  it("takes a pino logger as is (context first, message second)", () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(chunk.toString());
        done();
      },
    });
    const logger: NetLogger = pino({ level: "debug" }, sink);
    logger.debug({ topic: "/concord/1/c/requests", code: "SIG_INVALID" }, "gossip rejected");
    const line = JSON.parse(lines[0] ?? "{}") as Record<string, unknown>;
    expect(line).toMatchObject({ msg: "gossip rejected", topic: "/concord/1/c/requests", code: "SIG_INVALID" });
  });
});
