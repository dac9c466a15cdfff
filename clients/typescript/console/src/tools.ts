// The job view's tools: try the trained model (Generate, side by side with the base model), measure it
// (EvaluateModel, ListEvaluations), export it (ExportModel) and download the job's files (DownloadArtifact).
// Built once per opened job, next to the view that each progress event redraws, so what the user typed
// and a generation under way survive the redraws.
import {
  AdapterChoice,
  type ArtifactInfo,
  type DroidftClient,
  type Evaluation,
  type ExportedModel,
  FinishReason,
  GenerationSide,
} from "../../src/index.js";
import { bytes, clearError, el, showError } from "./dom.js";
import { sha256Hex } from "./upload.js";

const JOB_FILES: [string, string][] = [
  ["adapters.safetensors", "the final adapter"],
  ["adapter_config.json", "its configuration"],
  ["worker.log", "the training log"],
  ["events.jsonl", "the progress events"],
];

function labelled(id: string, text: string, control: HTMLElement): HTMLElement {
  control.id = id;
  return el("span", { class: "field" }, el("label", { for: id }, text), control);
}

function numberInput(value: string, min: string, max: string, step: string): HTMLInputElement {
  return el("input", { type: "number", value, min, max, step, style: "width: 7rem" });
}

/** The tools of job `jobId`; `client` gives the page's current client (a token may replace it). */
export function jobTools(jobId: string, client: () => DroidftClient): HTMLElement {
  return el("div", { id: "job-tools" }, tryIt(jobId, client), evaluate(jobId, client), exportAndDownload(jobId, client));
}

// --- try it -------------------------------------------------------------------------------------------

function tryIt(jobId: string, client: () => DroidftClient): HTMLElement {
  const kind = el("select", {}, el("option", { value: "prompt" }, "a prompt"), el("option", { value: "chat" }, "a chat message"));
  const text = el("textarea", { rows: "3", style: "width: 100%" });
  const maxTokens = numberInput("32", "1", "32768", "1");
  const temperature = numberInput("0", "0", "10", "0.1");
  const adapter = el(
    "select",
    {},
    el("option", { value: String(AdapterChoice.FINAL) }, "final adapter"),
    el("option", { value: String(AdapterChoice.BEST) }, "best checkpoint"),
    el("option", { value: String(AdapterChoice.CHECKPOINT) }, "a checkpoint"),
    el("option", { value: String(AdapterChoice.NONE) }, "base model (no adapter)"),
  );
  const iteration = numberInput("", "1", "", "1");
  const iterationField = labelled("try-iteration", "Checkpoint iteration", iteration);
  iterationField.hidden = true;
  adapter.addEventListener("change", () => {
    iterationField.hidden = adapter.value !== String(AdapterChoice.CHECKPOINT);
  });
  const sideBySide = el("input", { type: "checkbox", id: "try-side-by-side" });
  sideBySide.checked = true;
  const generate = el("button", { type: "button" }, "Generate");
  const stop = el("button", { type: "button", class: "secondary" }, "Stop");
  stop.disabled = true;
  const adapted = el("pre", { class: "log", id: "try-adapted", "aria-live": "polite" });
  const base = el("pre", { class: "log", id: "try-base", "aria-live": "polite" });
  const baseFigure = el("figure", {}, el("figcaption", {}, "Base model"), base);
  const summary = el("p", { class: "help", id: "try-summary" });
  let running: AbortController | undefined;

  generate.addEventListener("click", async () => {
    clearError();
    running = new AbortController();
    generate.disabled = true;
    stop.disabled = false;
    adapted.textContent = "";
    base.textContent = "";
    summary.textContent = "Generating…";
    const withBase = sideBySide.checked && adapter.value !== String(AdapterChoice.NONE);
    baseFigure.hidden = !withBase;
    const ends: string[] = [];
    try {
      const input = kind.value === "chat"
        ? { case: "messages" as const, value: { turns: [{ role: "user", content: text.value }] } }
        : { case: "prompt" as const, value: text.value };
      const choice = Number(adapter.value) as AdapterChoice;
      for await (const chunk of client().generate(
        {
          model: { jobId, adapter: choice, checkpointIteration: choice === AdapterChoice.CHECKPOINT ? Number(iteration.value) : 0 },
          input,
          sampling: { maxTokens: Number(maxTokens.value), temperature: Number(temperature.value) },
          sideBySide: withBase,
        },
        { signal: running.signal },
      )) {
        const box = chunk.side === GenerationSide.BASE ? base : adapted;
        box.textContent += chunk.text;
        if (chunk.finishReason !== FinishReason.UNSPECIFIED) {
          const side = chunk.side === GenerationSide.BASE ? "base" : "adapted";
          ends.push(`${side}: ${chunk.completionTokens} tokens (${FinishReason[chunk.finishReason].toLowerCase()})`);
        }
      }
      summary.textContent = `Done. ${ends.join("; ")}`;
    } catch (error) {
      summary.textContent = running.signal.aborted ? "Stopped." : "";
      if (!running.signal.aborted) showError(error);
    } finally {
      generate.disabled = false;
      stop.disabled = true;
    }
  });
  stop.addEventListener("click", () => running?.abort());

  return el(
    "details",
    { id: "try-it", open: "" },
    el("summary", {}, "Try it"),
    el(
      "div",
      { class: "row" },
      labelled("try-kind", "Send", kind),
      labelled("try-adapter", "Adapter", adapter),
      iterationField,
      labelled("try-max-tokens", "Max tokens", maxTokens),
      labelled("try-temperature", "Temperature", temperature),
      el("label", {}, sideBySide, " Side by side with the base model"),
    ),
    labelled("try-text", "Prompt or message", text),
    el("div", { class: "row" }, generate, stop),
    el("div", { class: "charts" }, el("figure", {}, el("figcaption", {}, "Adapted model"), adapted), baseFigure),
    summary,
  );
}

// --- evaluate -------------------------------------------------------------------------------------------

function metric(value: number | undefined, digits = 3): string {
  return value === undefined ? "—" : value.toFixed(digits);
}

function evaluate(jobId: string, client: () => DroidftClient): HTMLElement {
  const data = el("input", { type: "text", placeholder: "the job's test split" });
  const records = numberInput("", "1", "", "1");
  records.placeholder = "all";
  const button = el("button", { type: "button", class: "secondary" }, "Evaluate");
  const bar = el("progress", { max: "1", value: "0", "aria-label": "Evaluation progress" });
  bar.hidden = true;
  const table = el("table", { id: "evaluations" });
  const head = ["When", "Adapter", "Records", "Loss", "Perplexity", "Token accuracy", "Reward accuracy", "Pass@k", "Seconds"];

  async function refresh(): Promise<void> {
    const { evaluations } = await client().listEvaluations(jobId);
    table.replaceChildren(
      el("caption", { class: "help" }, evaluations.length ? "Evaluations of this job" : "No evaluation yet"),
      el("tr", {}, ...head.map((h) => el("th", { scope: "col" }, h))),
      ...evaluations.map((e: Evaluation) =>
        el(
          "tr",
          {},
          ...[
            e.createTime ? new Date(Number(e.createTime.seconds) * 1000).toLocaleTimeString() : "",
            e.adapterPath ? (e.adapterPath.split(`${e.jobId}/`).pop() ?? e.adapterPath) : "base model",
            String(e.records),
            metric(e.loss),
            metric(e.perplexity, 2),
            metric(e.tokenAccuracy),
            metric(e.rewardAccuracy),
            metric(e.passAtK),
            e.seconds.toFixed(1),
          ].map((c) => el("td", {}, c)),
        ),
      ),
    );
  }

  button.addEventListener("click", async () => {
    clearError();
    button.disabled = true;
    bar.hidden = false;
    bar.value = 0;
    try {
      const request = { model: { jobId }, dataPath: data.value.trim(), maxRecords: Number(records.value) || 0 };
      for await (const update of client().evaluateModel(request)) {
        bar.max = update.recordsTotal || 1;
        bar.value = update.recordsDone;
      }
      await refresh();
    } catch (error) {
      showError(error);
    } finally {
      button.disabled = false;
    }
  });
  void refresh().catch(() => {}); // a job that never trained has none; the button's call says why

  return el(
    "details",
    { id: "evaluate" },
    el("summary", {}, "Evaluate"),
    el(
      "div",
      { class: "row" },
      labelled("evaluate-data", "Data (a server path or file:<id>)", data),
      labelled("evaluate-records", "At most records", records),
      button,
      bar,
    ),
    el("div", { class: "scroll" }, table),
  );
}

// --- export and downloads ---------------------------------------------------------------------------

/** A file of the job, streamed into a Blob and handed to the browser as a download. */
async function download(client: DroidftClient, jobId: string, path: string): Promise<void> {
  const parts: Uint8Array[] = [];
  let info: ArtifactInfo | undefined;
  for await (const message of client.downloadArtifact(jobId, path)) {
    info ??= message.info;
    parts.push(message.data);
  }
  const blob = new Blob(parts as BlobPart[]);
  // Checked as the client's own download is: the size, and the SHA-256 where the browser offers it (https, localhost).
  const digest = crypto.subtle ? await sha256Hex(blob) : info?.sha256;
  if (info && (BigInt(blob.size) !== info.sizeBytes || digest !== info.sha256)) {
    throw new Error(`${path}: the bytes received do not match the server's file (size ${info.sizeBytes}, SHA-256 ${info.sha256}); download it again`);
  }
  const link = el("a", { href: URL.createObjectURL(blob), download: path.split("/").pop() ?? "download" });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 60_000);
}

function downloadButton(jobId: string, client: () => DroidftClient, path: string, what: string): HTMLElement {
  const button = el("button", { type: "button", class: "secondary" }, `Download ${path}`);
  button.addEventListener("click", async () => {
    clearError();
    button.disabled = true;
    try {
      await download(client(), jobId, path);
    } catch (error) {
      showError(error);
    } finally {
      button.disabled = false;
    }
  });
  return el("li", {}, button, ` ${what}`);
}

function exportAndDownload(jobId: string, client: () => DroidftClient): HTMLElement {
  const quantize = el("select", {}, el("option", { value: "" }, "no"), el("option", { value: "4" }, "4 bits"), el("option", { value: "8" }, "8 bits"));
  const dequantize = el("input", { type: "checkbox", id: "export-dequantize" });
  const gguf = el("input", { type: "checkbox", id: "export-gguf" });
  const button = el("button", { type: "button" }, "Export the model");
  const bar = el("progress", { max: "1", value: "0", "aria-label": "Export progress" });
  bar.hidden = true;
  const stage = el("span", { class: "help", id: "export-stage", "aria-live": "polite" });
  const exported = el("ul", { id: "export-files" });

  button.addEventListener("click", async () => {
    clearError();
    button.disabled = true;
    bar.hidden = false;
    exported.replaceChildren();
    let result: ExportedModel | undefined;
    try {
      for await (const update of client().exportModel(jobId, {
        quantizeBits: quantize.value ? Number(quantize.value) : undefined,
        dequantize: dequantize.checked,
        gguf: gguf.checked,
      })) {
        if (update.update.case === "progress") {
          bar.value = update.update.value.fraction;
          stage.textContent = update.update.value.stage;
        } else if (update.update.case === "result") {
          result = update.update.value;
        }
      }
      bar.value = 1;
      stage.textContent = result ? `Exported to ${result.path}${result.reused ? " (the same export as before)" : ""}.` : "";
      for (const file of result?.files ?? []) {
        exported.append(downloadButton(jobId, client, file.path, bytes(file.sizeBytes)));
      }
    } catch (error) {
      showError(error);
    } finally {
      button.disabled = false;
    }
  });

  return el(
    "details",
    { id: "export" },
    el("summary", {}, "Export and download"),
    el(
      "div",
      { class: "row" },
      labelled("export-quantize", "Quantise", quantize),
      el("label", {}, dequantize, " De-quantise a quantised base model"),
      el("label", {}, gguf, " Also write GGUF"),
      button,
      bar,
    ),
    stage,
    exported,
    el("h3", {}, "Files of the job"),
    el("ul", { id: "job-files" }, ...JOB_FILES.map(([path, what]) => downloadButton(jobId, client, path, what))),
  );
}
