/**
 * What build this process runs, for the `concord_build_info` metric and `/health`: the package
 * version from package.json (two folders up from src/node and dist/node alike) and, when the
 * build recorded one, the source commit from CONCORD_BUILD_COMMIT (a Dockerfile's build arg).
 */
import { readFileSync } from "node:fs";

export interface BuildInfo {
  version: string;
  commit?: string;
}

/**
 * @example
 * readBuildInfo({ CONCORD_BUILD_COMMIT: "5e2c88f" }) // { version: "0.1.0", commit: "5e2c88f" }
 */
export function readBuildInfo(env: NodeJS.ProcessEnv = process.env): BuildInfo {
  let version = "unknown";
  try {
    const json = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version?: unknown };
    if (typeof json.version === "string") version = json.version;
  } catch {
    // An unusual install without package.json beside it: the metric says "unknown".
  }
  const commit = env["CONCORD_BUILD_COMMIT"]?.trim();
  return commit ? { version, commit } : { version };
}
