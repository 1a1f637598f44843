// The ceiling benchmark's loops compute what they claim: each form's sum over one pass equals the
// same sum in JS, in Node and in Chromium (so its GMAC/s count real multiply-accumulates).
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const SCRIPT = fileURLToPath(new URL('./simd-ceiling.mjs', import.meta.url));

describe('simd-ceiling', () => {
  it('sums of every form equal JS sums, in Node and in Chromium', () => {
    const r = spawnSync(process.execPath, [SCRIPT, '--check'], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^Node v/);
    expect(lines[1]).toMatch(/^Chromium /);
    for (const line of lines) for (const form of ['dot16', 'dot7', 'dot7Add', 'mulAdd', 'fma']) expect(line).toContain(`${form} ok`);
  });
});
