/**
 * The worker-thread entry of the synthetic backend (createSyntheticBackend in ./synthetic.ts
 * starts it): decodes the jobs its parent posts, one at a time, and answers each with its result
 * or its error. Loaded as ./synthetic-worker.ts from source and ./synthetic-worker.js from dist/.
 */
import { parentPort } from "node:worker_threads";
import { assert } from "../errors.ts";
import { answerSyntheticJob, type SyntheticWorkerJob } from "./synthetic.ts";

const port = parentPort;
assert(port !== null, "synthetic-worker runs as a worker thread (createSyntheticBackend starts it)");
port.on("message", (request: SyntheticWorkerJob) => port.postMessage(answerSyntheticJob(request)));
