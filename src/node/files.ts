/**
 * The node's files by path (config, registry, key, slashing protection, data-directory lock):
 * only regular files. A FIFO at such a path blocked the node forever (opening it waits for a
 * writer that never comes); a device or a folder there is a mistake too. Each refusal is a
 * CONFIG error naming the path and what is there instead.
 */
import { closeSync, constants, fstatSync, openSync, readFileSync, statSync, type Stats } from "node:fs";
import { ConcordError } from "../errors.ts";

/**
 * Reads a regular file whole. Opened non-blocking, so a FIFO opens at once and is refused (its
 * type is checked on the open descriptor: nothing can swap the file in between). Errors from the
 * file system (ENOENT, EACCES) are thrown as they are, for the caller to word.
 */
export function readRegularFile(path: string): Buffer {
  // O_NONBLOCK is undefined on Windows, which has no FIFOs at a path.
  const fd = openSync(path, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
  try {
    const stats = fstatSync(fd);
    if (!stats.isFile()) throw notRegularFile(path, stats);
    return readFileSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * Throws CONFIG ("cannot open <what>") when something other than a regular file is at `path`,
 * for files that another library opens by path (SQLite); absent is fine.
 */
export function assertRegularFileIfPresent(path: string, what: string): void {
  let stats: Stats;
  try {
    stats = statSync(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return;
    throw new ConcordError("CONFIG", `cannot open ${what}`, { details: `${path}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`, cause: error });
  }
  if (!stats.isFile()) throw new ConcordError("CONFIG", `cannot open ${what}`, { details: notRegularFile(path, stats).message });
}

function notRegularFile(path: string, stats: Stats): ConcordError {
  const kind = stats.isFIFO()
    ? "a FIFO"
    : stats.isDirectory()
      ? "a directory"
      : stats.isSocket()
        ? "a socket"
        : stats.isCharacterDevice() || stats.isBlockDevice()
          ? "a device"
          : "not a file";
  return new ConcordError("CONFIG", `${path} is not a regular file (${kind})`);
}
