/**
 * An in-process message bus for protocol tests that do not exercise the network: every
 * publish is encoded, then decoded and delivered to every other participant on a later
 * macrotask, as gossip would. Validation errors are swallowed like a gossip validator would.
 * The e2e tests use real libp2p instead.
 */
import { isConcordError } from "../../src/errors.ts";
import { decodeMessage, encodeMessage } from "../../src/wire/messages.ts";
import type { Message } from "../../src/wire/types.ts";

type Receiver = (message: Message, fromPeer: string) => void;

export class LocalBus {
  readonly #receivers = new Map<string, Receiver>();
  /** Every delivery waits this long: messages queueing under load. */
  readonly #delayMs: number;
  readonly rejected: { to: string; kind: string; code: string }[] = [];
  published = 0;

  constructor(options: { delayMs?: number } = {}) {
    this.#delayMs = options.delayMs ?? 0;
  }

  endpoint(name: string) {
    return {
      attach: (receiver: Receiver) => {
        this.#receivers.set(name, receiver);
      },
      publish: async (message: Message) => {
        const bytes = encodeMessage(message);
        this.published++;
        setTimeout(() => this.#deliver(name, bytes), this.#delayMs);
        return { recipients: this.#receivers.size - 1, duplicate: false, msgId: "" };
      },
    };
  }

  #deliver(from: string, bytes: Uint8Array): void {
    for (const [name, receiver] of this.#receivers) {
      if (name === from) continue;
      try {
        receiver(decodeMessage(bytes), from);
      } catch (error) {
        if (!isConcordError(error)) throw error;
        if (error.action === "reject") this.rejected.push({ to: name, kind: decodeMessage(bytes).t, code: error.code });
      }
    }
  }
}
