import { floatToHalf, toFloat32, type HostTensor, type StateDict } from './host-tensor.js';
import { readStateDict, type ReadStateDictOptions } from './torch-load/index.js';
import { writeSafetensors } from './safetensors.js';

/** Options of {@link convertToSafetensors}. */
export interface ConvertOptions extends ReadStateDictOptions {
  /**
   * Cast every floating-point tensor (float64/32/16, bfloat16) to this dtype; integer and bool
   * tensors (BatchNorm's `num_batches_tracked`) are kept as they are. Default: keep all dtypes.
   */
  dtype?: 'float32' | 'float16';
  /** Extra `__metadata__` strings; `format: "pt"` is always written. */
  metadata?: Record<string, string>;
}

const FLOATS = new Set(['float64', 'float32', 'float16', 'bfloat16']);

/**
 * Casts a floating-point tensor to float32 or float16 (round to nearest even); others unchanged.
 * float64 goes through float32 on its way to float16, which can differ from torch's direct
 * `.half()` by one ulp in rare double-rounding ties.
 */
export function castFloat(t: HostTensor, dtype: 'float32' | 'float16'): HostTensor {
  if (!FLOATS.has(t.dtype) || t.dtype === dtype) return t;
  const f = toFloat32(t);
  if (dtype === 'float32') return { dtype, shape: [...t.shape], data: f };
  const h = new Uint16Array(f.length);
  for (let i = 0; i < f.length; i++) h[i] = floatToHalf(f[i]!);
  return { dtype, shape: [...t.shape], data: h };
}

/**
 * Converts a `torch.save` checkpoint (its state dict, see `readStateDict`) to a safetensors file,
 * optionally casting floating-point tensors to float16 or float32. Runs without the filesystem.
 *
 * @example await fs.writeFile('model.safetensors', convertToSafetensors(await fs.readFile('model.pth'), { dtype: 'float16' }));
 */
export function convertToSafetensors(pthBytes: Uint8Array, options: ConvertOptions = {}): Uint8Array {
  const sd = readStateDict(pthBytes, options);
  const out: StateDict = new Map();
  for (const [k, t] of sd) out.set(k, options.dtype ? castFloat(t, options.dtype) : t);
  return writeSafetensors(out, { format: 'pt', ...options.metadata });
}
