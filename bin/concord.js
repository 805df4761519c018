#!/usr/bin/env node
// The `concord` executable. Plain JavaScript that imports nothing of Concord's before it has
// checked the Node.js version, on purpose: an older Node.js fails on node:sqlite (22.13) while
// it loads Concord's modules, with a stack trace, before any of Concord's code could explain.
import { existsSync } from "node:fs";

const [major = 0, minor = 0] = process.versions.node.split(".").map(Number);
if (major < 22 || (major === 22 && minor < 13)) {
  process.stderr.write(`concord: needs Node.js 22.13 or later (node:sqlite); this is ${process.version}\n`);
  process.exit(2);
}

// A checkout runs the TypeScript source (Node.js strips the types); an installed package, dist/.
const source = new URL("../src/cli/main.ts", import.meta.url);
const fromSource = existsSync(source);
if (fromSource && !process.features.typescript) {
  process.stderr.write(`concord: running from the TypeScript source needs Node.js 22.18 or later (or: npm run concord); this is ${process.version}\n`);
  process.exit(2);
}
const { runCli } = await import(fromSource ? source.href : new URL("../dist/cli/main.js", import.meta.url).href);
await runCli(process.argv.slice(2));
