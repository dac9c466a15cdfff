// The web console: a page of the TypeScript client over the server's HTTP port. Every call goes through
// DroidftClient (its requests checked by the contract's protovalidate rules, its errors rich); the form
// is built from ListTrainingMethods and checked by the same rules as the user types.
import { fromJson, type JsonObject, toJson } from "@bufbuild/protobuf";
import { pathToString } from "@bufbuild/protobuf/reflect";
import { createValidator } from "@bufbuild/protovalidate";
import {
  DroidftClient,
  DroidftError,
  JobState,
  type MethodInfo,
  type ParameterInfo,
  ParameterType,
  type ResourceEstimate,
  type StreamDatasetValidationResponse,
  type TrainingJob,
  type TrainingJobSpec,
  TrainingJobSpecSchema,
  TrainingMethod,
  type TrainingProgress,
  TrainingProgressSchema,
} from "../../src/index.js";
import { chart, type Series } from "./chart.js";
import { byId, bytes, clearError, el, showError } from "./dom.js";
import { jobTools } from "./tools.js";
import { uploadFile } from "./upload.js";

const validator = createValidator();
const params = new URLSearchParams(location.search);

let client = makeClient();
let methods: MethodInfo[] = [];
let method: MethodInfo | undefined;
// What the user typed, by parameter path; kept across method changes for the shared parameters.
const typed = new Map<string, string | boolean>();
const touched = new Set<string>();

function makeClient(): DroidftClient {
  const token = sessionStorage.getItem("droidft.token") ?? undefined;
  return new DroidftClient(location.origin, { token });
}

// --- methods and settings ----------------------------------------------------------------------------

const GROUPS: [string, (path: string) => boolean][] = [
  ["Model and data", (p) => ["model_path", "train_data_path", "val_data_path"].includes(p)],
  ["Method settings", (p) => method !== undefined && p.startsWith(`${method.configField}.`)],
  ["Adapter", (p) => p.startsWith("adapter.")],
  ["Training", (p) => !p.includes(".")],
  ["Start from a checkpoint", (p) => p.startsWith("from_checkpoint.")],
];

function renderMethods(): void {
  const box = byId("methods");
  for (const info of methods) {
    const input = el("input", { type: "radio", name: "method", value: info.configField, id: `method-${info.configField}` });
    input.disabled = !info.available;
    input.addEventListener("change", () => selectMethod(info.configField));
    box.append(
      el(
        "label",
        { class: "card", for: input.id },
        input,
        el("strong", {}, info.title),
        el("small", {}, info.description),
        el("small", {}, ` Data: ${info.dataFormats.join(", ")}.`),
        info.reference ? el("small", {}, ` ${info.reference}`) : "",
      ),
    );
  }
}

function selectMethod(configField: string): void {
  method = methods.find((m) => m.configField === configField);
  const radio = byId<HTMLInputElement>(`method-${configField}`);
  radio.checked = true;
  const format = byId<HTMLSelectElement>("sample-format");
  format.replaceChildren(...(method?.dataFormats ?? []).map((f) => el("option", { value: f }, f)));
  renderSettings();
  check();
}

function rangeText(p: ParameterInfo): string {
  const low = p.minimum !== undefined ? `${p.minimum}${p.minimumExclusive ? " (excluded)" : ""}` : "";
  const high = p.maximum !== undefined ? `${p.maximum}${p.maximumExclusive ? " (excluded)" : ""}` : "";
  const range = low || high ? `Range ${low || "…"} to ${high || "…"}. ` : "";
  const stated = /default/i.test(p.description); // most descriptions give the range and default themselves
  return stated ? "" : `${range}${p.defaultValue ? `Default ${p.defaultValue}.` : ""}`;
}

function inputFor(p: ParameterInfo, id: string): HTMLInputElement | HTMLSelectElement {
  const value = typed.get(p.path);
  if (p.type === ParameterType.BOOL) {
    const box = el("input", { type: "checkbox", id });
    box.checked = value === true;
    box.addEventListener("change", () => edited(p.path, box.checked));
    return box;
  }
  if (p.type === ParameterType.ENUM) {
    const select = el("select", { id }, el("option", { value: "" }, `default (${p.defaultValue || "none"})`));
    select.append(...p.allowedValues.map((v) => el("option", { value: v }, v)));
    select.value = typeof value === "string" ? value : "";
    select.addEventListener("change", () => edited(p.path, select.value));
    return select;
  }
  const numeric = p.type === ParameterType.INTEGER || p.type === ParameterType.NUMBER;
  const input = el("input", { type: numeric ? "number" : "text", id, placeholder: p.defaultValue });
  if (numeric) {
    input.step = p.type === ParameterType.INTEGER ? "1" : "any";
    if (p.minimum !== undefined) input.min = String(p.minimum);
    if (p.maximum !== undefined) input.max = String(p.maximum);
  }
  if (p.type === ParameterType.REWARD_LIST) {
    input.placeholder = `names, e.g. ${method?.rewards.map((r) => r.name).join(", ")}`;
  }
  input.value = typeof value === "string" ? value : "";
  input.addEventListener("input", () => edited(p.path, input.value));
  return input;
}

function fieldId(path: string): string {
  return `field-${path.replaceAll(".", "-")}`;
}

function renderSettings(): void {
  const box = byId("settings");
  box.replaceChildren();
  if (!method) return;
  for (const [title, belongs] of GROUPS) {
    const fields = method.parameters.filter((p) => belongs(p.path) && !GROUPS.slice(0, GROUPS.findIndex(([t]) => t === title)).some(([, b]) => b(p.path)));
    if (fields.length === 0) continue;
    const grid = el("div", { class: "fields" });
    for (const p of fields) {
      const id = fieldId(p.path);
      const control = inputFor(p, id);
      control.setAttribute("aria-describedby", `${id}-help ${id}-error`);
      const help = el("div", { class: "help", id: `${id}-help` }, `${p.description} ${rangeText(p)}`);
      const error = el("div", { class: "error", id: `${id}-error`, "aria-live": "polite" });
      grid.append(el("div", { class: "field" }, el("label", { for: id }, p.path), control, help, error));
    }
    const group = title === "Start from a checkpoint" ? el("details", {}, el("summary", {}, title), grid) : el("div", {}, el("h3", {}, title), grid);
    box.append(group);
  }
}

function edited(path: string, value: string | boolean): void {
  if (value === "" || value === false) {
    typed.delete(path);
  } else {
    typed.set(path, value);
  }
  touched.add(path);
  check();
}

/** Sets a parameter as if typed (a suggested change's one-click edit, the page's query). */
function setParameter(path: string, value: string): void {
  typed.set(path, value);
  touched.add(path);
  const control = document.getElementById(fieldId(path)) as HTMLInputElement | HTMLSelectElement | null;
  if (control instanceof HTMLInputElement && control.type === "checkbox") {
    control.checked = value === "true";
  } else if (control) {
    control.value = value;
  }
}

interface Built {
  readonly spec?: TrainingJobSpec;
  readonly errors: Map<string, string>; // by parameter path; "" for the whole spec
}

/** The spec the form describes (or `values`), and what is wrong with it by the contract's rules. */
function buildSpec(values: ReadonlyMap<string, string | boolean> = typed): Built {
  const errors = new Map<string, string>();
  if (!method) return { errors: new Map([["", "pick a method"]]) };
  const json: JsonObject = { [method.configField]: {} };
  for (const p of method.parameters) {
    const value = values.get(p.path);
    if (value === undefined) continue;
    let converted: unknown = value;
    if (p.type === ParameterType.INTEGER || p.type === ParameterType.NUMBER) {
      const number = Number(value);
      if (String(value).trim() === "" || !Number.isFinite(number)) {
        errors.set(p.path, "must be a number");
        continue;
      }
      if (p.type === ParameterType.INTEGER && !Number.isInteger(number)) {
        errors.set(p.path, "must be a whole number");
        continue;
      }
      converted = number;
    } else if (p.type === ParameterType.REWARD_LIST) {
      converted = String(value)
        .split(",")
        .map((part) => part.trim())
        .filter(Boolean)
        .map((part) => {
          const [name, weight] = part.split(":");
          return weight === undefined ? { name } : { name, weight: Number(weight) };
        });
    }
    const segments = p.path.split(".");
    let node = json;
    for (const segment of segments.slice(0, -1)) {
      node = (node[segment] ??= {}) as JsonObject;
    }
    node[segments[segments.length - 1]] = converted as JsonObject[string];
  }
  let spec: TrainingJobSpec;
  try {
    spec = fromJson(TrainingJobSpecSchema, json);
  } catch (error) {
    errors.set("", String(error));
    return { errors };
  }
  const result = validator.validate(TrainingJobSpecSchema, spec);
  if (result.kind === "invalid") {
    for (const violation of result.violations) {
      const path = pathToString(violation.field);
      const key = parameterOf(path) ?? "";
      const text = key === path ? violation.message : `${path || "spec"}: ${violation.message}`;
      errors.set(key, [errors.get(key), text].filter(Boolean).join("; "));
    }
  } else if (result.kind === "error") {
    errors.set("", String(result.error));
  }
  return { spec, errors };
}

/** The form's parameter a field path lies in ("gspo.rollout.rewards[1].name": "gspo.rollout.rewards"). */
function parameterOf(path: string): string | undefined {
  const owners = (method?.parameters ?? [])
    .map((p) => p.path)
    .filter((p) => path === p || path.startsWith(`${p}.`) || path.startsWith(`${p}[`));
  return owners.sort((a, b) => b.length - a.length)[0];
}

/** Shows the rules' verdict at each field the user touched; the actions need a spec without errors. */
function check(showAll = false): Built {
  const built = buildSpec();
  for (const p of method?.parameters ?? []) {
    const id = fieldId(p.path);
    const message = touched.has(p.path) || showAll ? (built.errors.get(p.path) ?? "") : "";
    const error = document.getElementById(`${id}-error`);
    if (error) error.textContent = message;
    document.getElementById(id)?.setAttribute("aria-invalid", String(message !== ""));
  }
  byId("spec-errors").textContent = built.errors.get("") ?? "";
  const blocked = [...built.errors.keys()].some((path) => path === "" || touched.has(path) || showAll) || built.spec === undefined;
  for (const id of ["estimate", "start"]) byId<HTMLButtonElement>(id).disabled = blocked;
  return built;
}

function validSpec(): TrainingJobSpec | undefined {
  const built = check(true);
  return built.errors.size === 0 ? built.spec : undefined;
}

// --- data ---------------------------------------------------------------------------------------------

async function generateSample(): Promise<void> {
  clearError();
  const path = typed.get("train_data_path");
  if (typeof path !== "string") {
    touched.add("train_data_path");
    check();
    byId("status").textContent = "Give the training data path first: the sample is written there.";
    return;
  }
  try {
    const response = await client.generateSampleData({
      format: byId<HTMLSelectElement>("sample-format").value,
      count: Number(byId<HTMLInputElement>("sample-count").value),
      outputPath: path,
      overwrite: byId<HTMLInputElement>("sample-overwrite").checked,
    });
    byId("validation").replaceChildren(el("p", { class: "ok" }, `Wrote ${response.recordCount} ${response.format} records to ${response.path}.`));
  } catch (error) {
    showError(error);
  }
}

/** Makes `dataPath` the training data, as if typed (an uploaded file's "file:<id>"). */
function useAsTrainingData(dataPath: string): void {
  setParameter("train_data_path", dataPath);
  check();
  byId("validation").replaceChildren(el("p", { class: "ok" }, `Training data: ${dataPath}. Validate it next.`));
}

async function uploadPicked(): Promise<void> {
  clearError();
  const file = byId<HTMLInputElement>("upload-file").files?.[0];
  if (!file) {
    byId("status").textContent = "Pick a file to upload first.";
    return;
  }
  const bar = byId<HTMLProgressElement>("upload-progress");
  bar.hidden = false;
  bar.max = file.size || 1;
  try {
    const uploaded = await uploadFile(client, file, (received) => {
      bar.value = received;
    });
    bar.value = bar.max;
    await refreshUploads(uploaded.fileId);
    useAsTrainingData(uploaded.dataPath);
  } catch (error) {
    showError(error);
  }
}

/** The uploaded files to pick from (ListFiles); `selected` is chosen. */
async function refreshUploads(selected = ""): Promise<void> {
  try {
    const { files } = await client.listFiles();
    const list = byId<HTMLSelectElement>("uploaded-files");
    list.replaceChildren(
      el("option", { value: "" }, files.length ? "pick an uploaded file" : "none uploaded yet"),
      ...files.map((f) => el("option", { value: f.dataPath }, `${f.name} (${bytes(f.sizeBytes)}, ${f.fileId})`)),
    );
    list.value = files.find((f) => f.fileId === selected)?.dataPath ?? "";
  } catch (error) {
    showError(error);
  }
}

async function validateData(): Promise<void> {
  clearError();
  const path = typed.get("train_data_path");
  const model = typed.get("model_path");
  const maxSeq = typed.get("max_seq_length");
  const bar = byId<HTMLProgressElement>("validate-progress");
  const out = byId("validation");
  if (typeof path !== "string" || !method) {
    byId("status").textContent = "Pick a method and give the training data path first.";
    return;
  }
  bar.hidden = false;
  bar.value = 0;
  out.replaceChildren(el("p", {}, "Reading…"));
  try {
    let last: StreamDatasetValidationResponse | undefined;
    for await (const message of client.streamDatasetValidation({
      check: {
        source: { case: "path", value: path },
        method: method.method,
        modelPath: typeof model === "string" ? model : "",
        maxSeqLength: typeof maxSeq === "string" ? Number(maxSeq) : undefined,
      },
      progressIntervalSeconds: 0.1,
    })) {
      last = message;
      bar.max = Number(message.totalBytes) || 1;
      bar.value = Number(message.bytesRead);
      out.firstElementChild!.textContent = `Read ${message.recordsRead} records, ${message.issuesFound} issues so far…`;
    }
    renderValidation(last);
  } catch (error) {
    out.replaceChildren();
    showError(error);
  }
}

function renderValidation(last: StreamDatasetValidationResponse | undefined): void {
  const out = byId("validation");
  const result = last?.result;
  if (!result) {
    out.replaceChildren(el("p", { class: "error" }, "The check ended without a result."));
    return;
  }
  const verdict = result.valid ? el("p", { class: "ok", id: "validation-verdict" }, "Valid: training can use this data.") : el("p", { class: "error", id: "validation-verdict" }, "Not valid: fix the errors below.");
  const files = el("table", {}, el("caption", { class: "help" }, "Files"));
  files.append(el("tr", {}, ...["File", "Split", "Format", "Records", "Errors", "Warnings", "Tokens min / mean / p95 / max", "Over max length"].map((h) => el("th", { scope: "col" }, h))));
  for (const f of result.files) {
    const t = f.tokenStatistics;
    files.append(
      el(
        "tr",
        {},
        ...[f.path, f.split || "—", f.format, String(f.recordCount), String(f.errorCount), String(f.warningCount), t ? `${t.min} / ${t.mean.toFixed(1)} / ${t.p95} / ${t.max}` : "—", t ? String(t.overMaxSeqLength) : "—"].map((c) => el("td", {}, c)),
      ),
    );
  }
  const issues = el("table", { id: "issues" }, el("caption", { class: "help" }, `Issues${result.issuesTruncated ? " (first ones; more were counted)" : ""}`));
  issues.append(el("tr", {}, ...["File", "Line", "Field", "Code", "Message", "Severity"].map((h) => el("th", { scope: "col" }, h))));
  for (const i of result.issues) {
    issues.append(el("tr", {}, ...[i.file, String(i.line), i.fieldPath || "—", i.code, i.message, i.severity === 1 ? "error" : "warning"].map((c) => el("td", {}, c))));
  }
  out.replaceChildren(verdict, el("div", { class: "scroll" }, files), result.issues.length ? el("div", { class: "scroll" }, issues) : el("p", { class: "help" }, "No issues."));
}

// --- estimate and start ---------------------------------------------------------------------------------

function duration(seconds: number): string {
  if (!Number.isFinite(seconds)) return "—";
  if (seconds < 90) return `${seconds.toFixed(seconds < 10 ? 1 : 0)} s`;
  if (seconds < 5400) return `${(seconds / 60).toFixed(1)} min`;
  return `${(seconds / 3600).toFixed(1)} h`;
}

async function estimate(): Promise<void> {
  clearError();
  const spec = validSpec();
  if (!spec) return;
  try {
    const response = await client.estimateResources(spec);
    if (response.estimate) renderEstimate(response.estimate);
  } catch (error) {
    showError(error);
  }
}

function renderEstimate(e: ResourceEstimate): void {
  const breakdown = el("table", {}, el("caption", { class: "help" }, "Peak memory by component"));
  for (const [name, value] of Object.entries(e.breakdown ?? {})) {
    if (typeof value === "bigint") breakdown.append(el("tr", {}, el("th", { scope: "row" }, name.replace(/Bytes$/, "").replace(/([A-Z])/g, " $1").toLowerCase()), el("td", {}, bytes(value))));
  }
  const advice = el("ul", {});
  for (const a of e.advice) {
    const [path, value] = a.change.split("=");
    const outcome = ` ${a.description} → ${bytes(a.peakMemoryBytes)}, ${a.fits ? "fits" : "does not fit"}`;
    // One click applies a change the form can take: a value of a parameter that the contract's rules accept
    // (not a description such as "<a 4-bit quantised copy>").
    const known = method?.parameters.some((p) => p.path === path) && !value.startsWith("<");
    const refusal = known ? buildSpec(new Map([...typed, [path, value]])).errors.get(path) : undefined;
    if (!known || refusal) {
      advice.append(el("li", {}, el("code", {}, a.change), outcome, refusal ? ` (not applicable here: ${refusal})` : ""));
      continue;
    }
    const apply = el("button", { type: "button", class: "secondary" }, `Apply ${a.change}`);
    apply.addEventListener("click", () => {
      setParameter(path, value);
      check();
      void estimate();
    });
    advice.append(el("li", {}, apply, outcome));
  }
  byId("estimate-result").replaceChildren(
    el(
      "dl",
      { id: "estimate-summary" },
      el("dt", {}, "Peak memory"),
      el("dd", {}, `${bytes(e.peakMemoryBytes)} of ${bytes(e.availableMemoryBytes)} available`),
      el("dt", {}, "Fits"),
      el("dd", { class: e.fits ? "ok" : "error", id: "estimate-fits" }, e.fits ? "yes" : "no"),
      el("dt", {}, "Time"),
      el("dd", {}, `${duration(e.secondsPerIteration)} per iteration, ${duration(e.totalSeconds)} in all`),
      el("dt", {}, "Parameters"),
      el("dd", {}, `${Number(e.trainableParameters).toLocaleString()} trained of ${Number(e.totalParameters).toLocaleString()}`),
      el("dt", {}, "Device"),
      el("dd", {}, e.device),
    ),
    breakdown,
    e.advice.length ? el("div", {}, el("h3", {}, "Suggested changes"), advice) : "",
  );
}

async function start(): Promise<void> {
  clearError();
  const spec = validSpec();
  if (!spec) return;
  try {
    const job = await client.createTrainingJob(spec);
    openJob(job.jobId, true);
    void refreshJobs();
  } catch (error) {
    showError(error);
    if (error instanceof DroidftError) {
      for (const v of error.fieldViolations) {
        const path = parameterOf(v.field.replace(/^spec\./, ""));
        const box = path && document.getElementById(`${fieldId(path)}-error`);
        if (box) box.textContent = v.description;
      }
    }
  }
}

// --- the job view -------------------------------------------------------------------------------------

const STATE_NAMES: Record<number, string> = Object.fromEntries(
  Object.entries(JobState)
    .filter(([, v]) => typeof v === "number")
    .map(([k, v]) => [v as number, k.replace("JOB_STATE_", "").toLowerCase()]),
);
const METHOD_NAMES: Record<number, string> = Object.fromEntries(
  Object.entries(TrainingMethod)
    .filter(([, v]) => typeof v === "number")
    .map(([k, v]) => [v as number, k.replace("TRAINING_METHOD_", "").toLowerCase()]),
);
const RL_METRICS = ["reward_mean", "kl", "clip_fraction"];
const STORED_EVENTS = 5000; // per job, in this browser: enough for the charts of a long job

let following: AbortController | undefined;
let jobEvents: TrainingProgress[] = [];

function storageKey(jobId: string): string {
  return `droidft.events.${jobId}`;
}

function storedEvents(jobId: string): TrainingProgress[] {
  try {
    const raw = localStorage.getItem(storageKey(jobId));
    return raw ? (JSON.parse(raw) as JsonObject[]).map((e) => fromJson(TrainingProgressSchema, e)) : [];
  } catch {
    return [];
  }
}

function store(jobId: string): void {
  try {
    const kept = jobEvents.slice(-STORED_EVENTS).map((e) => toJson(TrainingProgressSchema, e));
    localStorage.setItem(storageKey(jobId), JSON.stringify(kept));
  } catch {
    // Storage full or off: a reload then replays the job's events from the server instead.
  }
}

/** Shows a job and follows it; `focus` takes keyboard focus and the view there (a job the user opened). */
function openJob(jobId: string, focus = false): void {
  following?.abort();
  following = new AbortController();
  history.replaceState(null, "", `${location.pathname}${location.search}#job=${encodeURIComponent(jobId)}`);
  byId("job-section").hidden = false;
  jobEvents = storedEvents(jobId);
  renderJob(jobId, undefined);
  byId("job-tools-area").replaceChildren(jobTools(jobId, () => client));
  if (focus) byId("job-title").focus();
  void follow(jobId, following.signal);
}

async function follow(jobId: string, signal: AbortSignal): Promise<void> {
  let job: TrainingJob | undefined;
  try {
    job = await client.getTrainingJob(jobId);
    renderJob(jobId, job);
    const after = jobEvents.length ? jobEvents[jobEvents.length - 1].sequence : 0n;
    let pending = false;
    for await (const event of client.streamProgress(jobId, { afterSequence: after, signal })) {
      jobEvents.push(event);
      if (!pending) {
        pending = true;
        // One render a frame however fast events come.
        requestAnimationFrame(async () => {
          pending = false;
          store(jobId);
          renderJob(jobId, job);
        });
      }
      if (event.event.case === "stateChange" || event.event.case === "checkpointSaved") {
        job = await client.getTrainingJob(jobId);
      }
    }
    job = await client.getTrainingJob(jobId);
    store(jobId);
    renderJob(jobId, job);
  } catch (error) {
    if (!signal.aborted) showError(error);
  }
}

function seriesOf(pick: (e: TrainingProgress) => [number, number] | undefined): [number, number][] {
  return jobEvents.map(pick).filter((p): p is [number, number] => p !== undefined);
}

// The job view is drawn again on every event (several times a second while a job trains). Its action buttons are
// made once per job and moved into each drawing: a button made anew each time loses a click whose press and release
// land on two different drawings.
let jobActions: { jobId: string; buttons: Map<string, HTMLButtonElement> } | undefined;

function actionButtons(jobId: string): Map<string, HTMLButtonElement> {
  if (jobActions?.jobId === jobId) return jobActions.buttons;
  const actions: [string, () => Promise<unknown>][] = [
    ["Cancel", () => client.cancelTrainingJob(jobId)],
    ["Pause", () => client.pauseTrainingJob(jobId)],
    ["Resume", async () => {
      await client.resumeTrainingJob(jobId);
      openJob(jobId);
    }],
  ];
  const buttons = new Map<string, HTMLButtonElement>();
  for (const [label, act] of actions) {
    const button = el("button", { type: "button", class: "secondary" }, label);
    button.addEventListener("click", async () => {
      clearError();
      try {
        await act();
        void refreshJobs();
      } catch (error) {
        showError(error);
      }
    });
    buttons.set(label, button);
  }
  jobActions = { jobId, buttons };
  return buttons;
}

function renderJob(jobId: string, job: TrainingJob | undefined): void {
  const reports = jobEvents.flatMap((e) => (e.event.case === "trainReport" ? [e.event.value] : []));
  const last = reports[reports.length - 1];
  const state = job ? STATE_NAMES[job.state] : "…";
  const iteration = job?.metrics?.iteration ?? last?.iteration ?? 0;
  const total = job?.metrics?.totalIterations || last?.totalIterations || job?.spec?.iterations || 0;
  const speed = last?.iterationsPerSecond ?? 0;
  const active = job !== undefined && [JobState.QUEUED, JobState.RUNNING].includes(job.state);
  const eta = active && speed > 0 && total > iteration ? duration((total - iteration) / speed) : "—";
  const resumable = job !== undefined && [JobState.PAUSED, JobState.FAILED, JobState.CANCELLED].includes(job.state);

  const loss: Series[] = [
    { name: "training loss", points: seriesOf((e) => (e.event.case === "trainReport" ? [e.event.value.iteration, e.event.value.loss] : undefined)) },
    { name: "validation loss", points: seriesOf((e) => (e.event.case === "evalReport" ? [e.event.value.iteration, e.event.value.valLoss] : undefined)) },
  ];
  const charts = [chart("Loss", loss), chart("Learning rate", [{ name: "learning rate", points: seriesOf((e) => (e.event.case === "trainReport" ? [e.event.value.iteration, e.event.value.learningRate] : undefined)) }])];
  for (const name of RL_METRICS) {
    const points = seriesOf((e) => (e.event.case === "trainReport" && name in e.event.value.metrics ? [e.event.value.iteration, e.event.value.metrics[name]] : undefined));
    if (points.length) charts.push(chart(name.replace("_", " "), [{ name, points }]));
  }

  const enabled: Record<string, boolean> = { Cancel: active, Pause: job?.state === JobState.RUNNING, Resume: resumable };
  const buttons = el("div", { class: "row" });
  for (const [label, button] of actionButtons(jobId)) {
    button.disabled = !enabled[label];
    buttons.append(button);
  }

  const checkpoints = el("ul", { id: "checkpoints" });
  for (const e of jobEvents) {
    if (e.event.case === "checkpointSaved") {
      const c = e.event.value;
      checkpoints.append(el("li", {}, `iteration ${c.iteration}${c.final ? " (final adapter)" : ""}${c.resumable ? ", resumable" : ""}: ${c.path}`));
    }
  }
  const log = el("div", { class: "log", id: "job-log", tabindex: "0", "aria-label": "Job log" });
  log.textContent = jobEvents
    .flatMap((e) => {
      if (e.event.case === "log") return [`#${e.sequence} ${e.event.value.message}`];
      if (e.event.case === "stateChange") return [`#${e.sequence} ${STATE_NAMES[e.event.value.previousState]} → ${STATE_NAMES[e.event.value.state]}${e.event.value.message ? `: ${e.event.value.message}` : ""}`];
      return [];
    })
    .join("\n");
  const samples = last?.samples ?? [];
  const sampleTable = el("table", {}, el("caption", { class: "help" }, "Sampled completions (latest report)"));
  for (const s of samples) sampleTable.append(el("tr", {}, el("td", {}, s.prompt), el("td", {}, s.completion), el("td", {}, s.reward.toFixed(3))));

  byId("job").replaceChildren(
    el(
      "dl",
      {},
      el("dt", {}, "Job"),
      el("dd", {}, `${job?.spec?.displayName || jobId} (${job ? METHOD_NAMES[job.method] : ""})`),
      el("dt", {}, "State"),
      el("dd", { "aria-live": "polite" }, el("span", { class: `state ${state}`, id: "job-state" }, state)),
      el("dt", {}, "Progress"),
      el("dd", {}, `iteration ${iteration} of ${total}; ETA ${eta}`),
      el("dt", {}, "Last event"),
      el("dd", { id: "job-sequence" }, String(jobEvents.length ? jobEvents[jobEvents.length - 1].sequence : 0)),
      ...(job?.error?.message ? [el("dt", {}, "Error"), el("dd", { class: "error" }, `${job.error.reason}: ${job.error.message}`)] : []),
    ),
    el("progress", { max: String(total || 1), value: String(iteration), "aria-label": "Training progress" }),
    buttons,
    el("div", { class: "charts", id: "charts" }, ...charts),
    samples.length ? el("div", { class: "scroll" }, sampleTable) : "",
    el("h3", {}, "Checkpoints"),
    checkpoints,
    el("h3", {}, "Log"),
    log,
  );
  log.scrollTop = log.scrollHeight;
}

// --- the jobs list ------------------------------------------------------------------------------------

// One row per job, kept across refreshes (every 2 s) and updated in place: a row made anew each time would lose a
// click on its button pressed before a refresh and released after it, as the job view's buttons would.
const jobRows = new Map<string, { row: HTMLTableRowElement; open: HTMLButtonElement; cells: HTMLTableCellElement[] }>();

function jobRow(job: TrainingJob): HTMLTableRowElement {
  let entry = jobRows.get(job.jobId);
  if (entry === undefined) {
    const open = el("button", { type: "button", class: "secondary" });
    open.addEventListener("click", () => openJob(job.jobId, true));
    const cells = [el("td", {}, open), el("td"), el("td"), el("td"), el("td")];
    entry = { row: el("tr", { "data-job": job.jobId }, ...cells), open, cells };
    jobRows.set(job.jobId, entry);
  }
  const [, method, state, progress, created] = entry.cells;
  entry.open.textContent = job.spec?.displayName || job.jobId;
  method.textContent = METHOD_NAMES[job.method];
  state.replaceChildren(el("span", { class: `state ${STATE_NAMES[job.state]}` }, STATE_NAMES[job.state]));
  progress.textContent = `${job.metrics?.iteration ?? 0} / ${job.metrics?.totalIterations || job.spec?.iterations || "?"}`;
  created.textContent = job.createTime ? new Date(Number(job.createTime.seconds) * 1000).toLocaleTimeString() : "";
  return entry.row;
}

async function refreshJobs(): Promise<void> {
  const filter = byId<HTMLSelectElement>("jobs-filter").value;
  const states =
    filter === "active"
      ? [JobState.QUEUED, JobState.RUNNING, JobState.PAUSING]
      : filter
        ? [JobState[filter.replace("JOB_STATE_", "") as keyof typeof JobState]]
        : [];
  try {
    const { jobs } = await client.listTrainingJobs({ pageSize: 50, states });
    byId("jobs").querySelector("tbody")!.replaceChildren(...jobs.map(jobRow));
  } catch (error) {
    showError(error);
  }
}

// --- start-up -----------------------------------------------------------------------------------------

async function main(): Promise<void> {
  byId("estimate").addEventListener("click", () => void estimate());
  byId("start").addEventListener("click", () => void start());
  byId("generate").addEventListener("click", () => void generateSample());
  byId("validate").addEventListener("click", () => void validateData());
  byId("upload").addEventListener("click", () => void uploadPicked());
  byId("use-uploaded").addEventListener("click", () => {
    const picked = byId<HTMLSelectElement>("uploaded-files").value;
    if (picked) useAsTrainingData(picked);
  });
  byId("jobs-filter").addEventListener("change", () => void refreshJobs());
  byId("token-save").addEventListener("click", () => {
    sessionStorage.setItem("droidft.token", byId<HTMLInputElement>("token").value);
    client = makeClient();
    byId("token-area").hidden = true;
    clearError();
    void load();
  });
  await load();
}

async function load(): Promise<void> {
  try {
    methods = (await client.listTrainingMethods()).methods;
  } catch (error) {
    showError(error);
    return;
  }
  byId("methods").querySelectorAll("label").forEach((label) => label.remove());
  renderMethods();
  // ?model=...&data=... fill the paths (the demo prints such a link); ?method=gspo picks a method.
  for (const [key, path] of [["model", "model_path"], ["data", "train_data_path"]]) {
    const value = params.get(key);
    if (value) typed.set(path, value);
  }
  const first = methods.find((m) => m.configField === params.get("method")) ?? methods.find((m) => m.available);
  if (first) selectMethod(first.configField);
  const jobId = new URLSearchParams(location.hash.slice(1)).get("job");
  if (jobId) openJob(jobId);
  void refreshJobs();
  void refreshUploads();
  jobsTimer ??= setInterval(() => void refreshJobs(), 2000);
}

let jobsTimer: ReturnType<typeof setInterval> | undefined;

void main();
