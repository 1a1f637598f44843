// Splitting the kernels of kernels.ts across threads, for tfjs' threaded build (compiled into the
// shared-memory variant only; see scripts/build-wasm.mjs and src/kernels/kernel-pool.ts).
//
// One job at a time, described in a control block on the tfjs heap (`ctrl`, 64-byte aligned, CTRL_BYTES):
// the calling thread writes the kernel's arguments, then `dispatch` publishes the job and runs
// chunks of it too; pool workers, parked in `workerLoop`, claim chunks until none is left. A chunk
// is a range of the kernel's work units (pixels, rows, elements, channels) passed as the kernel's
// trailing (lo, hi) parameters. Claims go through one 64-bit word, generation · chunk count · next
// chunk, so a late worker can never claim a chunk of a job it has not seen published.
import { activation, conv, denseAct, depthwise, meanPixels, scaleChannels } from './kernels';
import { qadd, qavgpool, qdepthwise, qgemm, qgemm7, qim2col, qmulChannels, qpad16, qquantize, qtable, qwiden, qwiden8 } from './int8';
import { setThreadSlot } from './thread-slot';

/** Generation of the job (i32), bumped by `dispatch` after the job is published; workers watch it. */
const GEN: usize = 0;
/** Workers asleep in atomic.wait (i32): `dispatch` notifies only when some are. */
const SLEEPERS: usize = 4;
/** Non-zero: workers leave `workerLoop`. */
const STOP: usize = 8;
/** gen << 32 | chunks << 16 | next chunk (i64). */
const CLAIM: usize = 64;
/** Chunks of the current job finished (i32). */
const DONE: usize = 128;
const KERNEL: usize = 192;
const UNITS: usize = 196;
const ALIGN: usize = 200;
/** The kernel's arguments before (lo, hi), as u32 words (pointers and integers). */
const ARGS: usize = 256;
/** Chunks run by each thread (i32 per thread; 0 is the caller), for tests and diagnostics. */
const STATS: usize = 384;
// The block is CTRL_BYTES = 512 bytes long (src/kernels/kernel-pool.ts allocates it).

/** Kernel ids of `dispatch` (src/kernels/kernel-pool.ts mirrors them). */
const CONV = 0;
const DEPTHWISE = 1;
const ACTIVATION = 2;
const MEAN_PIXELS = 3;
const SCALE_CHANNELS = 4;
const DENSE_ACT = 5;
const QGEMM = 6;
const QGEMM7 = 7;
const QWIDEN = 8;
const QWIDEN8 = 9;
const QIM2COL = 10;
const QPAD16 = 11;
const QDEPTHWISE = 12;
const QAVGPOOL = 13;
const QMUL_CHANNELS = 14;
const QADD = 15;
const QQUANTIZE = 16;
const QTABLE = 17;

@inline function arg(a: usize, i: usize): u32 {
  return load<u32>(a + (i << 2));
}

function runChunk(ctrl: usize, i: i32, chunks: i32): void {
  const units = load<i32>(ctrl + UNITS);
  const align = load<i32>(ctrl + ALIGN);
  const blocks = (units + align - 1) / align;
  const lo = min(units, <i32>((<i64>i * blocks) / chunks) * align);
  const hi = i == chunks - 1 ? units : min(units, <i32>((<i64>(i + 1) * blocks) / chunks) * align);
  if (lo >= hi) return;
  const a = ctrl + ARGS;
  switch (load<i32>(ctrl + KERNEL)) {
    case CONV:
      conv(
        arg(a, 0), arg(a, 1), arg(a, 2), arg(a, 3), arg(a, 4), arg(a, 5), arg(a, 6), arg(a, 7), arg(a, 8), arg(a, 9),
        arg(a, 10), arg(a, 11), arg(a, 12), arg(a, 13), arg(a, 14), arg(a, 15), arg(a, 16), arg(a, 17), arg(a, 18), arg(a, 19), lo, hi,
      );
      break;
    case DEPTHWISE:
      depthwise(arg(a, 0), arg(a, 1), arg(a, 2), arg(a, 3), arg(a, 4), arg(a, 5), arg(a, 6), arg(a, 7), arg(a, 8), arg(a, 9), arg(a, 10), arg(a, 11), arg(a, 12), arg(a, 13), arg(a, 14), lo, hi);
      break;
    case ACTIVATION:
      activation(arg(a, 0), arg(a, 1), arg(a, 2), arg(a, 3), lo, hi);
      break;
    case MEAN_PIXELS:
      meanPixels(arg(a, 0), arg(a, 1), arg(a, 2), arg(a, 3), arg(a, 4), lo, hi);
      break;
    case SCALE_CHANNELS:
      scaleChannels(arg(a, 0), arg(a, 1), arg(a, 2), arg(a, 3), arg(a, 4), arg(a, 5), lo, hi);
      break;
    case DENSE_ACT:
      denseAct(arg(a, 0), arg(a, 1), arg(a, 2), arg(a, 3), arg(a, 4), arg(a, 5), arg(a, 6), arg(a, 7), lo, hi);
      break;
    case QGEMM:
      qgemm(arg(a, 0), arg(a, 1), arg(a, 2), arg(a, 3), arg(a, 4), arg(a, 5), arg(a, 6), arg(a, 7), arg(a, 8), arg(a, 9), arg(a, 10), lo, hi);
      break;
    case QGEMM7:
      qgemm7(arg(a, 0), arg(a, 1), arg(a, 2), arg(a, 3), arg(a, 4), arg(a, 5), arg(a, 6), arg(a, 7), arg(a, 8), arg(a, 9), arg(a, 10), arg(a, 11), lo, hi);
      break;
    case QWIDEN:
      qwiden(arg(a, 0), arg(a, 1), arg(a, 2), arg(a, 3), arg(a, 4), lo, hi);
      break;
    case QWIDEN8:
      qwiden8(arg(a, 0), arg(a, 1), arg(a, 2), arg(a, 3), arg(a, 4), lo, hi);
      break;
    case QIM2COL:
      qim2col(arg(a, 0), arg(a, 1), arg(a, 2), arg(a, 3), arg(a, 4), arg(a, 5), arg(a, 6), arg(a, 7), arg(a, 8), arg(a, 9), arg(a, 10), arg(a, 11), arg(a, 12), lo, hi);
      break;
    case QPAD16:
      qpad16(arg(a, 0), arg(a, 1), arg(a, 2), arg(a, 3), arg(a, 4), arg(a, 5), arg(a, 6), arg(a, 7), lo, hi);
      break;
    case QDEPTHWISE:
      qdepthwise(
        arg(a, 0), arg(a, 1), arg(a, 2), arg(a, 3), arg(a, 4), arg(a, 5), arg(a, 6), arg(a, 7), arg(a, 8), arg(a, 9),
        arg(a, 10), arg(a, 11), arg(a, 12), arg(a, 13), arg(a, 14), arg(a, 15), lo, hi,
      );
      break;
    case QAVGPOOL:
      qavgpool(arg(a, 0), arg(a, 1), arg(a, 2), arg(a, 3), arg(a, 4), arg(a, 5), arg(a, 6), lo, hi);
      break;
    case QMUL_CHANNELS:
      qmulChannels(arg(a, 0), arg(a, 1), arg(a, 2), arg(a, 3), arg(a, 4), arg(a, 5), arg(a, 6), arg(a, 7), arg(a, 8), lo, hi);
      break;
    case QADD:
      qadd(arg(a, 0), arg(a, 1), arg(a, 2), arg(a, 3), arg(a, 4), arg(a, 5), arg(a, 6), arg(a, 7), arg(a, 8), arg(a, 9), lo, hi);
      break;
    case QQUANTIZE:
      qquantize(arg(a, 0), arg(a, 1), arg(a, 2), arg(a, 3), lo, hi);
      break;
    case QTABLE:
      qtable(arg(a, 0), arg(a, 1), lo, hi);
      break;
    default:
      break;
  }
}

/**
 * Claims and runs chunks of job `gen` until none is left (or a newer job is up), counting them
 * in thread `index`'s STATS slot. A chunk's arguments are read after its claim, and stay valid
 * until it is counted done.
 */
function runChunks(ctrl: usize, gen: i32, index: i32): void {
  for (;;) {
    const v = atomic.load<i64>(ctrl + CLAIM);
    if (<i32>(v >>> 32) != gen) break;
    const chunks = <i32>((v >>> 16) & 0xffff);
    const next = <i32>(v & 0xffff);
    if (next >= chunks) break;
    if (atomic.cmpxchg<i64>(ctrl + CLAIM, v, v + 1) != v) continue;
    runChunk(ctrl, next, chunks);
    // The address computed here, not passed in: Node 20's V8 (Liftoff) got an atomic add whose
    // address was a parameter live across the kernel calls wrong (it added at 0).
    atomic.add<i32>(ctrl + STATS + (<usize>index << 2), 1);
    atomic.add<i32>(ctrl + DONE, 1);
  }
}

/**
 * Runs kernel `kernel` (arguments already at ctrl + ARGS) over `units` work units in `chunks`
 * chunks (at most 65535) whose bounds are multiples of `align`: publishes the job, wakes the
 * sleeping workers, runs chunks itself and spins (never waits: a browser's main thread may not)
 * until every chunk is done.
 */
export function dispatch(ctrl: usize, kernel: i32, units: i32, align: i32, chunks: i32): void {
  store<i32>(ctrl + KERNEL, kernel);
  store<i32>(ctrl + UNITS, units);
  store<i32>(ctrl + ALIGN, align);
  atomic.store<i32>(ctrl + DONE, 0);
  const gen = atomic.load<i32>(ctrl + GEN) + 1;
  atomic.store<i64>(ctrl + CLAIM, (<i64>gen << 32) | (<i64>chunks << 16));
  atomic.store<i32>(ctrl + GEN, gen);
  if (atomic.load<i32>(ctrl + SLEEPERS) > 0) atomic.notify(ctrl + GEN, -1);
  runChunks(ctrl, gen, 0);
  while (atomic.load<i32>(ctrl + DONE) < chunks) {
    // the others finish their chunks
  }
}

/**
 * A pool worker's life: watch for jobs, spinning `spin` polls after each one (new jobs follow
 * within microseconds during an inference) before sleeping in atomic.wait; run chunks of each
 * job; return when STOP is set (by `stopWorkers`). `index` (1…) picks the thread's STATS slot.
 */
export function workerLoop(ctrl: usize, index: i32, spin: i32): void {
  setThreadSlot(index);
  let seen = atomic.load<i32>(ctrl + GEN);
  while (!atomic.load<i32>(ctrl + STOP)) {
    let g = atomic.load<i32>(ctrl + GEN);
    for (let k = 0; g == seen && k < spin; k++) g = atomic.load<i32>(ctrl + GEN);
    if (g == seen) {
      atomic.add<i32>(ctrl + SLEEPERS, 1);
      atomic.wait<i32>(ctrl + GEN, seen, -1);
      atomic.sub<i32>(ctrl + SLEEPERS, 1);
      continue;
    }
    seen = g;
    runChunks(ctrl, g, index);
  }
}

/** Makes every worker leave `workerLoop` (they return to their JS, which closes them). */
export function stopWorkers(ctrl: usize): void {
  atomic.store<i32>(ctrl + STOP, 1);
  atomic.store<i32>(ctrl + GEN, atomic.load<i32>(ctrl + GEN) + 1);
  atomic.notify(ctrl + GEN, -1);
}
