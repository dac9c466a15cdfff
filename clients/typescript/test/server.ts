import { type ChildProcess, execFile, spawn } from "node:child_process";
import { once } from "node:events";
import { watch } from "node:fs";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const REPO = fileURLToPath(new URL("../../../", import.meta.url));
const VENV_BIN = join(REPO, ".venv", "bin");

/** A droidft server in a child process, serving on a free port. */
export interface RunningServer {
  readonly address: string;
  /** Everything the server printed so far (JSON log lines). */
  readonly output: () => string;
  readonly stop: () => Promise<void>;
}

/** Starts the real server with its state under `dir`, reading models and data under `fileRoot`; resolves once its port file appears. */
export async function startServer(dir: string, fileRoot: string, extraArgs: string[] = []): Promise<RunningServer> {
  await mkdir(dir, { recursive: true });
  const portFile = join(dir, "port");
  const child = spawn(
    join(VENV_BIN, "droidft-server"),
    [
      "serve", "--listen", "127.0.0.1:0", "--port-file", portFile, "--state-dir", join(dir, "state"),
      "--data-root", fileRoot, "--model-root", fileRoot, ...extraArgs,
    ],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  let output = "";
  child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
  try {
    const port = await portOnceWritten(dir, portFile, child);
    return { address: `127.0.0.1:${port}`, output: () => output, stop: () => stopProcess(child) };
  } catch (error) {
    await stopProcess(child);
    throw new Error(`server did not start: ${String(error)}\n${output}`);
  }
}

// The server writes the port file whole and renames it into place, so any content read is complete.
function portOnceWritten(dir: string, portFile: string, child: ChildProcess): Promise<number> {
  return new Promise((resolve, reject) => {
    const watcher = watch(dir);
    const finish = (settle: () => void) => {
      watcher.close();
      child.off("exit", onExit);
      settle();
    };
    const onExit = (code: number | null) => finish(() => reject(new Error(`server exited with ${code}`)));
    const check = () =>
      readFile(portFile, "utf8").then(
        (text) => finish(() => resolve(Number.parseInt(text, 10))),
        () => undefined,
      );
    child.on("exit", onExit);
    watcher.on("change", check);
    void check();
  });
}

async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) {
    return;
  }
  const exited = once(child, "exit");
  child.kill("SIGTERM");
  await exited;
}

/** Builds the tiny test model (a random llama with its own tokenizer) under `dir`. */
export async function buildTinyModel(dir: string): Promise<string> {
  await promisify(execFile)(join(VENV_BIN, "droidft-server"), ["tiny-model", dir]);
  return dir;
}

/** Writes a small SFT data set (chat messages) and returns its path. */
export async function writeSftData(path: string): Promise<string> {
  const records = [];
  for (let a = 1; a <= 4; a++) {
    for (let b = 1; b <= 3; b++) {
      records.push({
        messages: [
          { role: "user", content: `${a}+${b}?` },
          { role: "assistant", content: `${a + b}` },
        ],
      });
    }
  }
  await writeFile(path, records.map((record) => `${JSON.stringify(record)}\n`).join(""));
  return path;
}
