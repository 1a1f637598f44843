import { describe, expect, it } from 'vitest';
import { CheckpointError, readCheckpoint, sniffCheckpointFormat, writeSafetensors } from './index.js';

describe('readCheckpoint', () => {
  it('reads safetensors and tells the formats apart by their first bytes', () => {
    const bytes = writeSafetensors(new Map([['w', { dtype: 'float32', shape: [2], data: new Float32Array([1, 2]) }]]));
    expect(sniffCheckpointFormat(bytes)).toBe('safetensors');
    expect([...(readCheckpoint(bytes).get('w')!.data as Float32Array)]).toEqual([1, 2]);
    expect(sniffCheckpointFormat(new Uint8Array([0x50, 0x4b, 3, 4]))).toBe('torch-zip');
    expect(sniffCheckpointFormat(new Uint8Array([0x80, 2, 0x8a]))).toBe('torch-legacy');
  });

  it('refuses other files with the bytes it saw', () => {
    const png = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0]);
    expect(() => readCheckpoint(png)).toThrow(CheckpointError);
    expect(() => readCheckpoint(png)).toThrow(/not a weights file.*89 50 4e 47/);
  });
});
