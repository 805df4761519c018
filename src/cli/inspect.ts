import { toHex } from "../wire/hash.ts";
import { requestId } from "../wire/ids.ts";
import { messageToJson } from "../wire/json.ts";
import { encodeMessage } from "../wire/messages.ts";
import type { Message } from "../wire/types.ts";
import { readMessageFile } from "./io.ts";

/** A one-line headline per kind, then the message in its JSON rendering. */
export function describeMessage(message: Message): string {
  const size = encodeMessage(message).length;
  switch (message.t) {
    case "request":
      return `request ${toHex(requestId(message))} (${size} bytes): ${message.policy.id}@${message.policy.version}, n=${message.n}, k=${message.k}, ${message.mode}`;
    case "bundle":
      return `bundle for request ${toHex(requestId(message.request))} (${size} bytes): ${message.outcome.supporters.length} supporters`;
    case "equivocation":
      return `equivocation evidence against ${message.first.node} (${size} bytes)`;
    default:
      return `${message.t} for request ${toHex(message.request)} (${size} bytes)`;
  }
}

export function inspectCommand(file: string, options: { json?: boolean }): string {
  const message = readMessageFile(file);
  const json = JSON.stringify(messageToJson(message), null, 2);
  return options.json ? json : `${describeMessage(message)}\n${json}`;
}
