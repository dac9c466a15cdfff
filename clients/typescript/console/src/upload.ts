// A data file the user picks in the page, uploaded into the server's files area with UploadFile.
//
// fetch cannot stream a request body over HTTP/1.1, so each UploadFile call carries one part of the file
// whole (the HTTP port reads the messages of the body as the call's stream). A part that ends before the
// file does is kept by the server, which answers UPLOAD_INCOMPLETE with the offset to go on from: the same
// resume that picks up a broken gRPC upload, so the size limit, the SHA-256 check, the tokens and the
// errors are the UploadFile handler's own. A page reloaded mid-upload resumes where the server stopped.
import { Code } from "@connectrpc/connect";
import { DroidftError, type DroidftClient, type UploadedFile } from "../../src/index.js";
import { uploadIdFor } from "../../src/transfers.js";

const PART_BYTES = 16 << 20; // a call's bytes: well under the HTTP port's request limit
const CHUNK_BYTES = 1 << 20; // a message's bytes (the contract allows 4 MiB)

/** The name the server keeps: the contract's pattern (letters, digits, `.`, `_`, `-`; the extension kept). */
function serverName(name: string): string {
  const safe = name.replace(/[^A-Za-z0-9._-]/g, "_").replace(/^[^A-Za-z0-9]+/, "");
  return (safe || "data").slice(-128);
}

/** The file's SHA-256, read whole into memory once: Web Crypto has no incremental digest. */
export async function sha256Hex(file: Blob): Promise<string> {
  if (!crypto.subtle) {
    // Browsers offer SHA-256 to secure pages only (https, or a page of localhost).
    throw new Error("uploading needs the page over https (or from localhost): the browser hashes files only there");
  }
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", await file.arrayBuffer()));
  return [...digest].map((b) => b.toString(16).padStart(2, "0")).join("");
}

function* chunks(bytes: Uint8Array): Generator<Uint8Array> {
  for (let at = 0; at < bytes.length; at += CHUNK_BYTES) yield bytes.subarray(at, at + CHUNK_BYTES);
}

/** Uploads `file`, resuming what the server already holds of it; `onProgress` gets the bytes the server has. */
export async function uploadFile(
  client: DroidftClient,
  file: File,
  onProgress: (received: number) => void,
): Promise<UploadedFile> {
  const sha256 = await sha256Hex(file);
  const sizeBytes = BigInt(file.size);
  const uploadId = uploadIdFor(sha256, sizeBytes);
  const name = serverName(file.name);
  let offset = 0;
  try {
    const held = await client.getUploadStatus(uploadId);
    if (held.name === name && held.sizeBytes === sizeBytes && held.sha256 === sha256) offset = Number(held.receivedBytes);
  } catch (error) {
    if (!(error instanceof DroidftError && error.code === Code.NotFound)) throw error;
  }
  for (;;) {
    onProgress(offset);
    const end = Math.min(offset + PART_BYTES, file.size);
    const part = new Uint8Array(await file.slice(offset, end).arrayBuffer());
    try {
      return await client.uploadPart({ uploadId, name, sizeBytes, sha256, offset: BigInt(offset) }, chunks(part));
    } catch (error) {
      const received = error instanceof DroidftError && error.reason === "UPLOAD_INCOMPLETE" ? Number(error.metadata.received_bytes) : NaN;
      if (!(received > offset && received < file.size)) throw error;
      offset = received;
    }
  }
}
