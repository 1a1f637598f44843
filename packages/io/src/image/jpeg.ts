// JPEG decoding by libjpeg-turbo 2.1.5 compiled to WebAssembly (native/jpeg/): the library Debian's
// Pillow 9.4 decodes with, so the bytes are Pillow's, in Node and in browsers alike. The module is
// embedded (./jpeg-wasm.ts) and compiled synchronously on the first JPEG, so decodeImage stays
// synchronous; it is 170 kB, far under browsers' limit for synchronous compilation on the main
// thread (8 MB).
import { ImageError, type ImageErrorCode, type RgbImage } from './image.js';
import { JPEG_WASM_BASE64 } from './jpeg-wasm.js';

interface JpegExports {
  readonly memory: WebAssembly.Memory;
  readonly _initialize: () => void;
  readonly malloc: (bytes: number) => number;
  readonly free: (pointer: number) => void;
  readonly mnv3_jpeg_decode: (source: number, length: number, maxPixels: number, info: number) => number;
}

/** Failure categories, as native/jpeg/mnv3_jpeg.c passes them to mnv3_jpeg_fail. */
const FAILURES: Record<number, { code: ImageErrorCode; what: string }> = {
  1: { code: 'corrupt', what: 'is corrupt' },
  2: { code: 'truncated', what: 'is truncated' },
  3: { code: 'unsupported', what: 'is of a kind not supported' },
  4: { code: 'too-large', what: 'is too large' },
  5: { code: 'too-large', what: 'needs more memory than WebAssembly can address (4 GiB)' },
};

/** Thrown by the imported mnv3_jpeg_fail: carries the category out of the abandoned wasm stack. */
class JpegFailure extends Error {
  constructor(
    readonly category: number,
    message: string,
  ) {
    super(message);
  }
}

// A module instance whose memory has grown past this is dropped after the decode, so that one big
// photo does not keep its pixels' worth of memory for the life of the process.
const KEEP_MEMORY_BYTES = 64 * 2 ** 20;

let compiled: WebAssembly.Module | undefined;
let instance: JpegExports | undefined;

function base64Bytes(base64: string): Uint8Array<ArrayBuffer> {
  const text = atob(base64);
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
  return bytes;
}

function readCString(memory: WebAssembly.Memory, pointer: number): string {
  const bytes = new Uint8Array(memory.buffer, pointer);
  const end = bytes.indexOf(0);
  return new TextDecoder().decode(bytes.subarray(0, end < 0 ? 0 : end));
}

function instantiate(): JpegExports {
  compiled ??= new WebAssembly.Module(base64Bytes(JPEG_WASM_BASE64));
  const bound: { memory?: WebAssembly.Memory } = {}; // the instance's memory, once it exists
  // libjpeg-turbo's unused stdio and getenv paths import WASI; none of them runs but getenv's
  // environment query, answered as empty.
  const wasi = {
    environ_sizes_get: (countPointer: number, sizePointer: number) => {
      const view = new DataView(bound.memory!.buffer);
      view.setUint32(countPointer, 0, true);
      view.setUint32(sizePointer, 0, true);
      return 0;
    },
    environ_get: () => 0,
    fd_close: () => 52,
    fd_write: () => 52,
    fd_seek: () => 52,
    proc_exit: (code: number) => {
      throw new JpegFailure(1, `libjpeg-turbo exited with code ${code}`);
    },
  };
  const env = {
    mnv3_jpeg_fail: (category: number, message: number) => {
      throw new JpegFailure(category, readCString(bound.memory!, message));
    },
    emscripten_notify_memory_growth: () => {},
  };
  const exports = new WebAssembly.Instance(compiled, { env, wasi_snapshot_preview1: wasi }).exports as unknown as JpegExports;
  bound.memory = exports.memory;
  exports._initialize();
  return exports;
}

/**
 * Decodes a JPEG to RGB as Pillow 9.4's `Image.open(f).convert('RGB')` does, bit for bit: greyscale
 * replicated, CMYK and YCCK read with Adobe's inverted polarity and converted by Pillow's formula.
 * The caller has checked the header's size against `maxPixels`; libjpeg checks it again.
 */
export function decodeJpegPixels(bytes: Uint8Array, maxPixels: number): RgbImage {
  const wasm = (instance ??= instantiate());
  let source = 0;
  let info = 0;
  let pixels = 0;
  try {
    source = wasm.malloc(bytes.length);
    info = wasm.malloc(8);
    if (source === 0 || info === 0) throw new JpegFailure(5, 'out of memory for the encoded file');
    new Uint8Array(wasm.memory.buffer, source, bytes.length).set(bytes);
    pixels = wasm.mnv3_jpeg_decode(source, bytes.length, Math.min(maxPixels, 0xffffffff), info);
    const [width, height] = new Uint32Array(wasm.memory.buffer, info, 2);
    const data = new Uint8Array(wasm.memory.buffer, pixels, width! * height! * 3).slice();
    return { width: width!, height: height!, data };
  } catch (e) {
    // The wasm stack was abandoned mid-call: this instance's heap is not to be trusted again.
    instance = undefined;
    if (!(e instanceof JpegFailure)) {
      throw new ImageError('corrupt', `JPEG could not be decoded: ${(e as Error).message ?? String(e)}`, { cause: e });
    }
    const failure = FAILURES[e.category] ?? FAILURES[1]!;
    throw new ImageError(failure.code, `JPEG ${failure.what}: ${e.message}`);
  } finally {
    if (instance !== undefined) {
      wasm.free(pixels);
      wasm.free(info);
      wasm.free(source);
      if (wasm.memory.buffer.byteLength > KEEP_MEMORY_BYTES) instance = undefined;
    }
  }
}
