// The page: task, model, weights and image in; the task's result, latency and backend out.
// Nothing here is specific to classification: every task goes through its descriptor
// (./tasks/types.ts), so detection and segmentation plug in by being added to TASKS.
import { CheckpointError, ImageError, imageDataToRgb, loadImage, type RgbImage } from '@mnv3/io';
import { HubError, downloadWeights, formatBytes } from '@mnv3/io/hub-browser';
import { QUANTIZABLE_ARCHS, QuantizationError } from '@mnv3/quantize';
import { describeBackend, startBackend, type BackendStatus } from './backend.js';
import { PLANNED_TASKS, TASKS, type AnyTask, type ModelBadge, type RegistryWeights, type SettingValue, type TaskSetting, type WeightsInput } from './tasks/index.js';

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const ui = {
  backend: $<HTMLParagraphElement>('backend'),
  task: $<HTMLSelectElement>('task'),
  model: $<HTMLSelectElement>('model'),
  settings: $<HTMLFieldSetElement>('settings'),
  weights: $<HTMLSelectElement>('weights'),
  weightsFile: $<HTMLInputElement>('weights-file'),
  weightsInfo: $<HTMLParagraphElement>('weights-info'),
  imageFile: $<HTMLInputElement>('image-file'),
  webcam: $<HTMLButtonElement>('webcam'),
  capture: $<HTMLButtonElement>('capture'),
  live: $<HTMLInputElement>('live'),
  liveLabel: $<HTMLLabelElement>('live-label'),
  placeholder: $<HTMLParagraphElement>('placeholder'),
  preview: $<HTMLCanvasElement>('preview'),
  overlay: $<HTMLCanvasElement>('overlay'),
  video: $<HTMLVideoElement>('video'),
  status: $<HTMLParagraphElement>('status'),
  latency: $<HTMLParagraphElement>('latency'),
  modelBadge: $<HTMLParagraphElement>('model-badge'),
  error: $<HTMLDivElement>('error'),
  panel: $<HTMLDivElement>('panel'),
  dropHint: $<HTMLDivElement>('drop-hint'),
  draw: $<HTMLCanvasElement>('draw'),
  drawUse: $<HTMLButtonElement>('draw-use'),
  drawClear: $<HTMLButtonElement>('draw-clear'),
};

const state = {
  task: TASKS[0]!,
  model: TASKS[0]!.models[0]!.name,
  weights: null as (WeightsInput & { id: number }) | null,
  loaded: null as { key: string; model: unknown; task: AnyTask } | null,
  image: null as RgbImage | null,
  runs: 0,
  weightsCounter: 0,
  /** Current values of the task's own controls, by setting id (kept per task while the page lives). */
  settings: {} as Record<string, SettingValue>,
};

// ---------------------------------------------------------------------------------------------
// Status, errors

type StatusState = 'idle' | 'busy' | 'ready' | 'error';

function setStatus(s: StatusState, text: string): void {
  ui.status.dataset.state = s;
  ui.status.textContent = text;
}

/** A headline a person can act on, and the library's own message underneath. */
function explain(e: unknown): { headline: string; detail: string } {
  const detail = e instanceof Error ? e.message : String(e);
  if (e instanceof HubError) {
    const headline =
      e.code === 'offline' || e.code === 'network'
        ? 'Could not download the weights: you seem to be offline or the server is unreachable. Pick a checkpoint file instead.'
        : 'Could not download the weights.';
    return { headline, detail };
  }
  if (e instanceof ImageError || (e instanceof Error && e.name === 'ImageReadError')) {
    return { headline: 'Could not read the image: give a PNG or JPEG (or another format your browser opens).', detail };
  }
  if (e instanceof QuantizationError) return explainQuantization(e, detail);
  if (e instanceof CheckpointError) return { headline: 'This file is not a checkpoint that can be read (.pth from torch.save, or .safetensors).', detail };
  if (/the checkpoint does not fit .*auxiliary head: build with/.test(detail)) {
    return { headline: 'This checkpoint carries an auxiliary head: tick "aux head" and it loads.', detail };
  }
  if (/the checkpoint does not fit .*has no auxiliary head/.test(detail)) {
    return { headline: 'This checkpoint has no auxiliary head: untick "aux head".', detail };
  }
  if (/the checkpoint does not fit/.test(detail)) {
    return { headline: `These weights are not for ${state.model}: pick the model the checkpoint was saved from.`, detail };
  }
  return { headline: 'Something went wrong.', detail };
}

/** The quantized model's refusals (`QuantizationError`): what to tick, untick or give instead. */
function explainQuantization(e: QuantizationError, detail: string): { headline: string; detail: string } {
  const quantizable = (QUANTIZABLE_ARCHS as readonly string[]).includes(state.model);
  if (e.code === 'float-checkpoint') {
    return { headline: 'This is a float checkpoint: untick "quantized (int8)" to run it, or give a quantized one (IMAGENET1K_QNNPACK_V1, a QAT-layout .pth or an int8 .safetensors).', detail };
  }
  if (e.code === 'missing-qparams') return { headline: `This quantized checkpoint lacks keys that ${state.model} needs: is it for another model?`, detail };
  // `load()` refusing a quantized checkpoint without quantize: true.
  if (e.code === 'invalid-option' && /quantize: true/.test(detail)) {
    const headline = quantizable
      ? 'This is a quantized (int8) checkpoint: tick "quantized (int8)" and it loads.'
      : `This is a quantized (int8) MobileNetV3 checkpoint: pick ${QUANTIZABLE_ARCHS.join(' or ')} and tick "quantized (int8)".`;
    return { headline, detail };
  }
  return { headline: 'This quantized checkpoint cannot be used.', detail };
}

function showError(e: unknown): void {
  console.error(e);
  const { headline, detail } = explain(e);
  const strong = document.createElement('strong');
  strong.textContent = headline;
  const p = document.createElement('p');
  p.textContent = detail;
  ui.error.replaceChildren(strong, p);
  ui.error.hidden = false;
  setStatus('error', 'error');
}

function clearError(): void {
  ui.error.hidden = true;
  ui.error.replaceChildren();
}

// ---------------------------------------------------------------------------------------------
// Backend

const backendReady: Promise<BackendStatus> = startBackend().then((s) => {
  ui.backend.textContent = describeBackend(s);
  Object.assign(ui.backend.dataset, { state: 'ready', backend: s.backend, simd: String(s.simd), threads: String(s.threads), isolated: String(s.isolated) });
  return s;
});

// ---------------------------------------------------------------------------------------------
// Selectors

function option(value: string, text: string, disabled = false): HTMLOptionElement {
  const o = new Option(text, value);
  o.disabled = disabled;
  return o;
}

function fillTasks(): void {
  ui.task.replaceChildren(...TASKS.map((t) => option(t.id, t.label)), ...PLANNED_TASKS.map((t) => option(t.id, t.label, true)));
  ui.task.value = state.task.id;
}

function fillModels(): void {
  ui.model.replaceChildren(...state.task.models.map((m) => option(m.name, m.name)));
  ui.model.value = state.model;
  fillWeights();
  fillSettings();
}

const settingKey = (s: TaskSetting) => `${state.task.id}.${s.id}`;

/** The task's settings that apply to the current model. */
function activeSettings(): TaskSetting[] {
  return (state.task.settings ?? []).filter((s) => !s.models || s.models.includes(state.model));
}

/** Every setting's value for the current task (inactive ones at their default). */
function currentSettings(): Record<string, SettingValue> {
  const active = new Set(activeSettings());
  return Object.fromEntries((state.task.settings ?? []).map((s) => [s.id, active.has(s) ? (state.settings[settingKey(s)] ?? s.default) : s.default]));
}

function settingControl(s: TaskSetting): HTMLElement {
  const value = state.settings[settingKey(s)] ?? s.default;
  const set = (v: SettingValue) => {
    state.settings[settingKey(s)] = v;
    // A load-stage setting may change the weights on offer (quantized: another table): registry
    // weights no longer offered are dropped, a user's file is kept (and checked by the new load).
    if (s.stage === 'load') {
      const w = state.weights;
      if (w?.kind === 'registry' && !offeredWeights().some((o) => sameWeights(o, w.weights))) setWeights(null);
      fillWeights();
    }
    pending('applying the option…');
    void refresh();
  };
  const label = document.createElement('label');
  let input: HTMLInputElement | HTMLSelectElement;
  if (s.kind === 'select') {
    input = document.createElement('select');
    input.append(...s.choices.map((c) => option(c.value, c.label)));
    input.value = String(value);
    input.addEventListener('change', () => set((input as HTMLSelectElement).value));
    label.append(s.label, ' ', input);
  } else if (s.kind === 'checkbox') {
    input = document.createElement('input');
    input.type = 'checkbox';
    input.checked = Boolean(value);
    input.addEventListener('change', () => set((input as HTMLInputElement).checked));
    label.className = 'check';
    label.append(input, ' ', s.label);
  } else {
    input = document.createElement('input');
    input.type = 'number';
    Object.assign(input, { min: String(s.min), max: String(s.max), step: String(s.step), value: String(value) });
    input.addEventListener('change', () => {
      const v = Number((input as HTMLInputElement).value);
      if (Number.isFinite(v) && v >= s.min && v <= s.max) set(v);
      else (input as HTMLInputElement).value = String(state.settings[settingKey(s)] ?? s.default);
    });
    label.append(s.label, ' ', input);
  }
  input.id = `setting-${s.id}`;
  input.dataset.testid = `setting-${s.id}`;
  if (s.hint) {
    const hint = document.createElement('span');
    hint.className = 'hint';
    hint.textContent = s.hint;
    label.append(hint);
  }
  return label;
}

function fillSettings(): void {
  const active = activeSettings();
  const legend = document.createElement('legend');
  legend.textContent = 'Options';
  ui.settings.replaceChildren(legend, ...active.map(settingControl));
  ui.settings.hidden = active.length === 0;
}

const FILE_OPTION = '';

/** The registry weights offered for the current model and settings. */
function offeredWeights(): readonly RegistryWeights[] {
  return state.task.weightsFor?.(state.model, currentSettings()) ?? state.task.models.find((m) => m.name === state.model)!.weights;
}

const sameWeights = (a: RegistryWeights, b: RegistryWeights) => a.name === b.name && a.entry.url === b.entry.url;

function fillWeights(): void {
  ui.weights.replaceChildren(
    option(FILE_OPTION, 'none (use a file)'),
    ...offeredWeights().map((w) =>
      option(w.name, `${w.name}${w.isDefault ? ' (default)' : ''} — ${w.builtIn ? `built-in (${Object.keys(w.entry.meta.metrics).join(', ')}, works offline)` : 'download'}`),
    ),
  );
  ui.weights.value = state.weights?.kind === 'registry' ? state.weights.weights.name : FILE_OPTION;
}

ui.task.addEventListener('change', () => {
  const task = TASKS.find((t) => t.id === ui.task.value);
  if (!task) return;
  state.task = task;
  state.model = task.models[0]!.name;
  if (state.weights?.kind === 'registry') setWeights(null);
  fillModels();
  void refresh();
});

ui.model.addEventListener('change', () => {
  state.model = ui.model.value;
  // Registry weights belong to one model; a user's file is kept (and checked against the new model).
  if (state.weights?.kind === 'registry') setWeights(null);
  fillWeights();
  fillSettings();
  void refresh();
});

// ---------------------------------------------------------------------------------------------
// Weights

function setWeights(w: WeightsInput | null): void {
  state.weights = w && { ...w, id: ++state.weightsCounter };
  ui.weightsInfo.textContent = !w
    ? 'no weights yet'
    : w.kind === 'file'
      ? `file ${w.fileName} (${formatBytes(w.bytes.byteLength)})`
      : `${w.weights.name} from ${w.weights.entry.url} (${formatBytes(w.bytes.byteLength)}, cached in this browser)`;
}

/** A new input is on its way: the previous error no longer applies. */
function pending(text: string): void {
  clearError();
  setStatus('busy', text);
}

async function useWeightsFile(file: File): Promise<void> {
  pending(`reading ${file.name}…`);
  ui.weights.value = FILE_OPTION;
  // Read in the queue, so an image given meanwhile is run with these weights, not the previous ones.
  await queue(async () => setWeights({ kind: 'file', fileName: file.name, bytes: new Uint8Array(await file.arrayBuffer()) }));
  await refresh();
}

ui.weightsFile.addEventListener('change', () => {
  const file = ui.weightsFile.files?.[0];
  if (file) void useWeightsFile(file).catch(showError);
});

ui.weights.addEventListener('change', () => {
  const name = ui.weights.value;
  const entry = offeredWeights().find((w) => w.name === name);
  if (!entry) return;
  void queue(async () => {
    clearError();
    setStatus('busy', `downloading ${entry.name}…`);
    const bytes = await downloadWeights(entry.entry.url, {
      sha256Prefix: entry.entry.sha256Prefix,
      progress: (received, total) => setStatus('busy', `downloading ${entry.name}: ${formatBytes(received)}${total ? ` of ${formatBytes(total)}` : ''}`),
    });
    setWeights({ kind: 'registry', weights: entry, bytes });
  }).then(refresh, (e: unknown) => {
    // Back to the weights still in use (the previous download, a file, or none).
    ui.weights.value = state.weights?.kind === 'registry' ? state.weights.weights.name : FILE_OPTION;
    showError(e);
  });
});

// ---------------------------------------------------------------------------------------------
// Images

function drawPreview(img: RgbImage): void {
  const { width, height, data } = img;
  const rgba = new Uint8ClampedArray(width * height * 4);
  for (let i = 0, j = 0; i < data.length; i += 3, j += 4) {
    rgba[j] = data[i]!;
    rgba[j + 1] = data[i + 1]!;
    rgba[j + 2] = data[i + 2]!;
    rgba[j + 3] = 255;
  }
  for (const c of [ui.preview, ui.overlay]) {
    c.width = width;
    c.height = height;
  }
  ui.preview.getContext('2d')!.putImageData(new ImageData(rgba, width, height), 0, 0);
  ui.placeholder.hidden = true;
  // While the webcam runs the live video is what people look at; the frame shows once it stops.
  ui.preview.hidden = stream !== null;
  ui.overlay.hidden = stream !== null;
}

class ImageReadError extends Error {
  override name = 'ImageReadError';
}

async function readImage(source: Blob | HTMLVideoElement): Promise<RgbImage> {
  try {
    return await loadImage(source);
  } catch (e) {
    if (e instanceof ImageError) throw e;
    // createImageBitmap's DOMException for a file that is no image at all
    throw new ImageReadError(`${source instanceof File ? `${source.name}: ` : ''}${(e as Error).message}`, { cause: e });
  }
}

async function useImage(source: Blob | HTMLVideoElement): Promise<void> {
  if (!(source instanceof HTMLVideoElement)) pending('reading the image…');
  const img = await readImage(source);
  state.image = img;
  if (!(source instanceof HTMLVideoElement)) stopWebcam();
  drawPreview(img);
  await refresh();
}

ui.imageFile.addEventListener('change', () => {
  const file = ui.imageFile.files?.[0];
  if (file) void useImage(file).catch(showError);
});

const CHECKPOINT_RE = /\.(pth|pt|bin|ckpt|safetensors)$/i;

function takeFiles(files: Iterable<File>): void {
  for (const file of files) {
    if (CHECKPOINT_RE.test(file.name)) void useWeightsFile(file).catch(showError);
    else void useImage(file).catch(showError);
  }
}

let dragDepth = 0;
document.addEventListener('dragenter', (e) => {
  e.preventDefault();
  dragDepth++;
  ui.dropHint.hidden = false;
});
document.addEventListener('dragleave', () => {
  if (--dragDepth <= 0) ui.dropHint.hidden = true;
});
document.addEventListener('dragover', (e) => e.preventDefault());
document.addEventListener('drop', (e) => {
  e.preventDefault();
  dragDepth = 0;
  ui.dropHint.hidden = true;
  if (e.dataTransfer?.files.length) takeFiles(e.dataTransfer.files);
});
document.addEventListener('paste', (e) => {
  const files = [...(e.clipboardData?.files ?? [])];
  if (files.length) {
    e.preventDefault();
    takeFiles(files);
  }
});

// Drawing: a small dark pad with a light brush (Fashion-MNIST's look), classified on demand.
const pad = ui.draw.getContext('2d', { willReadFrequently: true })!;
function clearPad(): void {
  pad.fillStyle = '#000';
  pad.fillRect(0, 0, ui.draw.width, ui.draw.height);
}
clearPad();
let last: { x: number; y: number } | null = null;
const padPoint = (e: PointerEvent) => {
  const r = ui.draw.getBoundingClientRect();
  return { x: ((e.clientX - r.left) * ui.draw.width) / r.width, y: ((e.clientY - r.top) * ui.draw.height) / r.height };
};
ui.draw.addEventListener('pointerdown', (e) => {
  ui.draw.setPointerCapture(e.pointerId);
  last = padPoint(e);
});
ui.draw.addEventListener('pointermove', (e) => {
  if (!last) return;
  const p = padPoint(e);
  Object.assign(pad, { strokeStyle: '#ddd', lineWidth: 9, lineCap: 'round' });
  pad.beginPath();
  pad.moveTo(last.x, last.y);
  pad.lineTo(p.x, p.y);
  pad.stroke();
  last = p;
});
ui.draw.addEventListener('pointerup', () => (last = null));
ui.drawClear.addEventListener('click', clearPad);
ui.drawUse.addEventListener('click', () => {
  const { data, width, height } = pad.getImageData(0, 0, ui.draw.width, ui.draw.height);
  state.image = imageDataToRgb({ data, width, height });
  stopWebcam();
  drawPreview(state.image);
  void refresh();
});

// Webcam: a frame is captured on demand, or continuously in live mode.
let stream: MediaStream | null = null;

function stopWebcam(): void {
  ui.live.checked = false;
  stream?.getTracks().forEach((t) => t.stop());
  stream = null;
  ui.video.hidden = true;
  ui.capture.hidden = true;
  ui.liveLabel.hidden = true;
  ui.webcam.textContent = 'Start webcam';
  if (state.image) ui.preview.hidden = ui.overlay.hidden = false;
}

ui.webcam.addEventListener('click', async () => {
  if (stream) return stopWebcam();
  try {
    if (!navigator.mediaDevices?.getUserMedia) throw new Error('this browser gives no camera access here (it needs https or localhost)');
    stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: 'environment' }, audio: false });
  } catch (e) {
    return showError(new Error(`Could not start the webcam: ${(e as Error).message}`));
  }
  ui.video.srcObject = stream;
  ui.video.hidden = false;
  ui.preview.hidden = true;
  ui.overlay.hidden = true;
  ui.placeholder.hidden = true;
  ui.capture.hidden = false;
  ui.liveLabel.hidden = false;
  ui.webcam.textContent = 'Stop webcam';
});

async function captureFrame(): Promise<void> {
  if (ui.video.readyState < 2) await new Promise((r) => ui.video.addEventListener('loadeddata', r, { once: true }));
  await useImage(ui.video);
}

ui.capture.addEventListener('click', () => void captureFrame().catch(showError));

ui.live.addEventListener('change', async () => {
  while (ui.live.checked && stream) {
    try {
      await captureFrame();
    } catch (e) {
      ui.live.checked = false;
      showError(e);
    }
    await new Promise((r) => requestAnimationFrame(r));
  }
});

// ---------------------------------------------------------------------------------------------
// Load and run, one step at a time

/** The loaded model's badge (precision, kernels), or none. */
function showBadge(badge: ModelBadge | null): void {
  for (const k of Object.keys(ui.modelBadge.dataset)) if (k !== 'testid') delete ui.modelBadge.dataset[k];
  ui.modelBadge.textContent = badge?.text ?? '';
  if (badge) Object.assign(ui.modelBadge.dataset, badge.data);
  ui.modelBadge.hidden = !badge;
}

let chain: Promise<unknown> = Promise.resolve();

/** Runs `fn` after every step queued before it. */
function queue<T>(fn: () => Promise<T>): Promise<T> {
  const next = chain.then(fn);
  chain = next.catch(() => undefined);
  return next;
}

function refresh(): Promise<void> {
  return queue(step).catch(showError);
}

async function step(): Promise<void> {
  clearError();
  await backendReady;
  const task = state.task;
  const w = state.weights;
  if (!w) {
    setStatus('idle', 'choose weights: a checkpoint file or pretrained weights');
    return;
  }
  const settings = currentSettings();
  const loadSettings = (task.settings ?? []).filter((s) => s.stage === 'load').map((s) => `${s.id}=${String(settings[s.id])}`);
  const key = [task.id, state.model, w.id, ...loadSettings].join('/');
  if (state.loaded?.key !== key) {
    if (state.loaded) state.loaded.task.dispose(state.loaded.model);
    state.loaded = null;
    ui.panel.replaceChildren();
    ui.latency.textContent = '';
    showBadge(null);
    setStatus('busy', `loading ${state.model}…`);
    const t0 = performance.now();
    const model = await task.load(state.model, w, settings);
    state.loaded = { key, model, task };
    showBadge(task.badge?.(model) ?? null);
    ui.latency.textContent = `model loaded in ${Math.round(performance.now() - t0)} ms`;
  }
  const image = state.image;
  if (!image) {
    setStatus('idle', 'model loaded: now give an image');
    return;
  }
  setStatus('busy', 'running…');
  const t0 = performance.now();
  const result = await task.run(state.loaded.model, image, settings);
  const ms = performance.now() - t0;
  task.render(result, { panel: ui.panel, overlay: ui.overlay, image });
  state.runs++;
  ui.panel.dataset.runs = String(state.runs);
  ui.latency.dataset.ms = ms.toFixed(1);
  ui.latency.textContent = `last run ${ms.toFixed(1)} ms (preprocessing + inference, ${image.width}×${image.height} input)${state.runs === 1 ? ', first run includes warm-up' : ''}`;
  setStatus('ready', `ready: ${state.model}`);
}

fillTasks();
fillModels();
void refresh();
