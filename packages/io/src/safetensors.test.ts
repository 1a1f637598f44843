// Hostile safetensors headers: each is refused with a typed CheckpointError, quickly.
import { describe, expect, it } from 'vitest';
import { readSafetensors, writeSafetensors } from './safetensors.js';
import { codeOf } from '../test/helpers/torch-bytes.js';

/** A file whose header is `json` and whose data section holds `data` bytes. */
function file(json: string, data = 0): Uint8Array {
  const header = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + header.length + data);
  new DataView(out.buffer).setBigUint64(0, BigInt(header.length), true);
  out.set(header, 8);
  return out;
}

describe('readSafetensors refuses hostile headers with a CheckpointError', () => {
  it.each([
    ['a null entry', '{"a": null}', /entry "a" is null, not an object/],
    ['a list entry', '{"a": [1, 2]}', /entry "a" is a list, not an object/],
    ['a number entry', '{"a": 3}', /entry "a" is number, not an object/],
    ['non-string metadata', '{"__metadata__": {"k": 1}}', /__metadata__ maps names to strings; "k" is number/],
    ['null metadata', '{"__metadata__": null}', /entry "__metadata__" is null/],
    ['a shape nested too deep', '{"a": {"dtype": "F32", "shape": [[2]], "data_offsets": [0, 8]}}', /nests deeper than the format's 3 levels/],
  ])('%s', (_, json, message) => {
    expect(() => readSafetensors(file(json, 8))).toThrow(message);
    expect(codeOf(() => readSafetensors(file(json, 8)))).toBe('corrupt');
  });

  it('a 20 MB header of nested brackets, in well under a second and without parsing it', () => {
    const n = 10_000_000;
    const json = new Uint8Array(2 * n);
    json.fill(0x5b, 0, n);
    json.fill(0x5d, n);
    const bytes = file(new TextDecoder().decode(json));
    const t0 = performance.now();
    expect(codeOf(() => readSafetensors(bytes))).toBe('corrupt');
    expect(performance.now() - t0).toBeLessThan(1000);
  });

  it('brackets inside names and strings do not count as nesting', () => {
    const bytes = writeSafetensors(new Map([['a[[[{{{"\\', { dtype: 'float32', shape: [2], data: Float32Array.from([1, 2]) }]]), { note: '[[[[{{{{' });
    const { tensors, metadata } = readSafetensors(bytes);
    expect(Array.from(tensors.get('a[[[{{{"\\')!.data as Float32Array)).toEqual([1, 2]);
    expect(metadata).toEqual({ note: '[[[[{{{{' });
  });
});
