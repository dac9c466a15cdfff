import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { mkdir, open, rename, stat, unlink } from "node:fs/promises";
import { dirname } from "node:path";
import type { DownloadArtifactResponse } from "./gen/droidft/v1/files_pb.js";

/** Bytes of one upload message. */
export const UPLOAD_CHUNK_BYTES = 1 << 20;
/** A download is written here first, and renamed to its destination once its SHA-256 checks out. */
export const PARTIAL_SUFFIX = ".partial";

/** SHA-256 (hex) of a local file. */
export async function fileSha256(path: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(path)) {
    hash.update(chunk as Buffer);
  }
  return hash.digest("hex");
}

/** The default upload id, as the Python client makes it: the same file gets the same id, so it resumes. */
export function uploadIdFor(sha256: string, size: bigint): string {
  return `${sha256.slice(0, 40)}-${size}`;
}

/** The bytes of a local file from `offset` on, in upload-sized chunks. */
export async function* fileChunks(path: string, offset: bigint): AsyncGenerator<Uint8Array> {
  for await (const chunk of createReadStream(path, { start: Number(offset), highWaterMark: UPLOAD_CHUNK_BYTES })) {
    yield chunk as Buffer;
  }
}

/** The download's checksum does not match the server's; the partial file was removed. */
export class DownloadChecksumError extends Error {
  override readonly name = "DownloadChecksumError";
}

/** Bytes already downloaded into `<destination>.partial`: where a download resumes. */
export async function partialOffset(destination: string): Promise<bigint> {
  try {
    return BigInt((await stat(destination + PARTIAL_SUFFIX)).size);
  } catch {
    return 0n;
  }
}

/** Drops a partial file that cannot be resumed (it is longer than the server's file). */
export async function dropPartial(destination: string): Promise<void> {
  await unlink(destination + PARTIAL_SUFFIX).catch(() => undefined);
}

/** Writes a download stream into the partial file, checks the whole file's SHA-256, and renames it into place. */
export async function writeDownload(
  destination: string,
  messages: AsyncIterable<DownloadArtifactResponse>,
): Promise<string> {
  const partial = destination + PARTIAL_SUFFIX;
  await mkdir(dirname(destination), { recursive: true });
  let expected: string | undefined;
  let position = 0;
  const handle = await open(partial, "a+").then(async (file) => {
    await file.close();
    return open(partial, "r+");
  });
  try {
    for await (const message of messages) {
      if (expected === undefined) {
        expected = message.info?.sha256 ?? "";
        position = Number(message.info?.offset ?? 0n);
        await handle.truncate(position);
      }
      await handle.write(message.data, 0, message.data.length, position);
      position += message.data.length;
    }
    await handle.sync();
  } finally {
    await handle.close();
  }
  if (expected === undefined || (await fileSha256(partial)) !== expected) {
    await unlink(partial);
    throw new DownloadChecksumError(`${destination}: the bytes received do not match the server's SHA-256; download again`);
  }
  await rename(partial, destination);
  return destination;
}
