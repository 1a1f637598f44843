#!/usr/bin/env node
/* global performance, WebAssembly, atob -- measure() runs in Node and in the page */
// How fast each multiply-accumulate form of WASM SIMD runs on this engine and CPU, in the inner loop
// of our GEMM tiles with the data in L1 (assembly/simd-ceiling.ts): the bound on how much faster an int8
// GEMM can be than a float one, whatever else the kernels do. Node (relaxed SIMD turned on) and
// headless Chromium, the forms interleaved round by round, best round of each. Both engines run
// V8's optimising compiler only (--no-liftoff): that is the code a kernel runs once warm, and
// Node 20's baseline compiler gets the fused form wrong (it drops the accumulator).
//
//   node benchmarks/kernels/simd-ceiling.mjs [--rounds R] [--no-browser] [--json FILE]
//   node benchmarks/kernels/simd-ceiling.mjs --check [--no-browser]   (each form's sums against JS)
import { spawnSync } from 'node:child_process';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import asc from 'assemblyscript/asc';

const HERE = fileURLToPath(new URL('.', import.meta.url));
const NODE_FLAGS = ['--experimental-wasm-relaxed-simd', '--no-liftoff'];

/** The forms, with the MACs one k-step of the 4 × 8 tile does. */
export const FORMS = {
  dot16: { macs: 64, what: 'i32x4.dot_i16x8_s + i32x4.add (plain int8 GEMM, qgemm)' },
  dot7: { macs: 128, what: 'i16x8.relaxed_dot_i8x16_i7x16_s, extadd_pairwise, add (relaxed int8 GEMM, qgemm7)' },
  dot7Add: { macs: 128, what: 'i32x4.relaxed_dot_i8x16_i7x16_add_s (fused)' },
  mulAdd: { macs: 32, what: 'f32x4.mul + f32x4.add (plain float GEMM, conv)' },
  fma: { macs: 32, what: 'f32x4.relaxed_madd (relaxed float GEMM)' },
};

/** Compiles simd-ceiling.ts (SIMD and relaxed SIMD on). */
export async function compile() {
  let wasm = null;
  const { error, stderr } = await asc.main(
    ['assembly/simd-ceiling.ts', '--enable', 'simd', '--enable', 'relaxed-simd', '--runtime', 'stub', '--use', 'abort=', '-O3', '--noAssert', '--initialMemory', '1', '--outFile', 'out.wasm'],
    {
      readFile: (name, baseDir) => {
        try {
          return readFileSync(join(HERE, baseDir, name), 'utf8');
        } catch {
          return null;
        }
      },
      writeFile: (name, contents) => {
        if (name === 'out.wasm') wasm = contents;
      },
      listFiles: () => [],
    },
  );
  if (error) throw new Error(`asc failed: ${error.message}\n${stderr.toString()}`);
  return new Uint8Array(wasm);
}

/**
 * Runs in Node and in a page (serialised with toString: self-contained). `check`: each form's sum
 * over one pass on small random data against the same sum in JS. Otherwise GMAC/s per form, the
 * best of `rounds` rounds (the first is warm-up), forms interleaved within each round.
 */
export async function measure(bytes, { rounds = 9, check = false } = {}) {
  const { instance } = await WebAssembly.instantiate(bytes, {});
  const e = instance.exports;
  const X = 1024;
  const W = X + 1024;
  const STEPS = 64;
  // FORMS' MACs again: this function is serialised into the page, so it cannot close over FORMS.
  const MACS = { dot16: 64, dot7: 128, dot7Add: 128, mulAdd: 32, fma: 32 };
  // The data each form reads (the fused forms read their unfused twin's).
  const fillAs = { dot16: 'dot16', dot7: 'dot7', dot7Add: 'dot7', mulAdd: 'mulAdd', fma: 'mulAdd' };
  const buf = e.memory.buffer;
  let seed = 12345;
  const rand = (lo, hi) => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return lo + ((seed >>> 8) % (hi - lo + 1));
  };
  // Four rows of x, 256 bytes apart; the weights of 64 k-steps, 32 bytes each. `fill` writes
  // values of the form's type and returns the expected sum of one pass.
  const fill = (form) => {
    if (form === 'mulAdd') {
      const x = new Float32Array(buf, X, 256);
      const w = new Float32Array(buf, W, 512);
      for (let i = 0; i < x.length; i++) x[i] = rand(-8, 8);
      for (let i = 0; i < w.length; i++) w[i] = rand(-8, 8);
      let s = 0;
      for (let r = 0; r < 4; r++) for (let p = 0; p < STEPS; p++) for (let j = 0; j < 8; j++) s += x[r * 64 + p] * w[p * 8 + j];
      return s;
    }
    if (form === 'dot16') {
      const x = new Int16Array(buf, X, 512);
      const w = new Int16Array(buf, W, 1024);
      for (let i = 0; i < x.length; i++) x[i] = rand(-255, 255);
      for (let i = 0; i < w.length; i++) w[i] = rand(-128, 127);
      let s = 0;
      for (let r = 0; r < 4; r++) for (let p = 0; p < STEPS; p++) for (let j = 0; j < 8; j++) for (let t = 0; t < 2; t++) s += x[r * 128 + p * 2 + t] * w[p * 16 + j * 2 + t];
      return s | 0;
    }
    const x = new Int8Array(buf, X, 1024);
    const w = new Int8Array(buf, W, 2048);
    for (let i = 0; i < x.length; i++) x[i] = rand(-128, 127);
    for (let i = 0; i < w.length; i++) w[i] = rand(0, 127);
    let s = 0;
    for (let r = 0; r < 4; r++) for (let p = 0; p < STEPS; p++) for (let j = 0; j < 8; j++) for (let t = 0; t < 4; t++) s += x[r * 256 + p * 4 + t] * w[p * 32 + j * 4 + t];
    return s | 0;
  };
  const forms = Object.keys(MACS);
  if (check) {
    const out = {};
    for (const f of forms) {
      const want = fill(fillAs[f]);
      out[f] = { want, got: e[f](X, W, 1) };
    }
    return out;
  }
  const iters = 20000;
  const best = {};
  for (let round = 0; round < rounds; round++) {
    for (const f of forms) {
      fill(fillAs[f]);
      const t0 = performance.now();
      e[f](X, W, iters);
      const ms = performance.now() - t0;
      if (round > 0) best[f] = Math.max(best[f] ?? 0, (MACS[f] * STEPS * iters) / ms / 1e6);
    }
  }
  return best;
}

async function inChromium(bytes, options) {
  const { launch } = await import('../browser/chromium.mjs');
  const browser = await launch(['--js-flags=--no-liftoff']);
  try {
    const page = await browser.newPage();
    const result = await page.evaluate(
      async ([src, b64, o]) => {
        const fn = new Function(`return (${src})`)();
        const bin = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
        return fn(bin, o);
      },
      [measure.toString(), Buffer.from(bytes).toString('base64'), options],
    );
    return { engine: `Chromium ${browser.version()}`, result };
  } finally {
    await browser.close();
  }
}

/**
 * The ceilings: int8 over float GEMM in each build. Real (qnnpack) checkpoints use the full int8
 * range, so only the int16 dot serves them; the 7-bit forms serve layers whose weights fit in 7 bits.
 */
export function ceilings(g) {
  return {
    plain: g.dot16 / g.mulAdd,
    relaxedFullRange: g.dot16 / g.fma,
    relaxed7Bit: Math.max(g.dot7, g.dot7Add) / g.fma,
  };
}

function table(rows) {
  const forms = Object.keys(FORMS);
  const lines = [
    `| engine | ${forms.join(' | ')} | plain build: dot16 / mulAdd | relaxed build, full-range weights: dot16 / fma | relaxed build, 7-bit weights: best 7-bit / fma |`,
    `|${' --- |'.repeat(forms.length + 4)}`,
  ];
  for (const { engine, gmacs } of rows) {
    const c = ceilings(gmacs);
    lines.push(`| ${engine} | ${forms.map((f) => gmacs[f].toFixed(1)).join(' | ')} | ${c.plain.toFixed(2)}× | ${c.relaxedFullRange.toFixed(2)}× | ${c.relaxed7Bit.toFixed(2)}× |`);
  }
  return lines.join('\n');
}

async function main() {
  const { values } = parseArgs({
    options: {
      rounds: { type: 'string', default: '9' },
      'no-browser': { type: 'boolean' },
      json: { type: 'string' },
      check: { type: 'boolean' },
    },
  });
  // Node 20 has relaxed SIMD behind a flag: run again with it (and without the baseline compiler).
  if (!NODE_FLAGS.every((f) => process.execArgv.includes(f))) {
    const r = spawnSync(process.execPath, [...NODE_FLAGS, ...process.execArgv, fileURLToPath(import.meta.url), ...process.argv.slice(2)], { stdio: 'inherit' });
    process.exit(r.status ?? 1);
  }
  const rounds = Number(values.rounds);
  if (!Number.isInteger(rounds) || rounds < 2) throw new Error(`--rounds needs an integer ≥ 2 (the first round is warm-up), got "${values.rounds}"`);
  const bytes = await compile();
  const node = `Node ${process.version} (V8 ${process.versions.v8})`;
  if (values.check) {
    const runs = [{ engine: node, result: await measure(bytes, { check: true }) }];
    if (!values['no-browser']) runs.push(await inChromium(bytes, { check: true }));
    let bad = 0;
    for (const { engine, result } of runs) {
      console.log(`${engine}: ${Object.entries(result).map(([f, r]) => `${f} ${r.got === r.want ? 'ok' : `WRONG ${r.got} (want ${r.want})`}`).join(', ')}`);
      bad += Object.values(result).filter((r) => r.got !== r.want).length;
    }
    if (bad) process.exit(1);
    return;
  }
  const rows = [{ engine: node, gmacs: await measure(bytes, { rounds }) }];
  if (!values['no-browser']) {
    const { engine, result } = await inChromium(bytes, { rounds });
    rows.push({ engine, gmacs: result });
  }
  console.log(`GMAC/s of each form, 4×8 GEMM tile, data in L1, best of ${rounds - 1} rounds:\n`);
  for (const [f, { what }] of Object.entries(FORMS)) console.log(`  ${f.padEnd(8)} ${what}`);
  console.log(`\n${table(rows)}`);
  if (values.json) {
    const tmp = `${values.json}.tmp`;
    writeFileSync(tmp, `${JSON.stringify({ date: new Date().toISOString(), rounds, forms: FORMS, rows: rows.map((r) => ({ ...r, ceilings: ceilings(r.gmacs) })) }, null, 2)}\n`);
    renameSync(tmp, values.json);
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  main().catch((e) => {
    console.error(e instanceof Error ? e.message : e);
    process.exit(1);
  });
}
