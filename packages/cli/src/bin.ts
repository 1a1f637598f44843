#!/usr/bin/env node
// Relaxed SIMD gives our kernels fused multiply-add (their relaxed build, ~10% faster training
// steps). Node 22 has it on; Node 20 only behind a V8 flag, which a process may still turn on
// before it compiles any WASM: so before the CLI (and with it the kernels) loads.
// `MNV3_RELAXED_SIMD=0` keeps the plain-SIMD build.
import { setFlagsFromString } from 'node:v8';
import { relaxedSimdSupported } from '@mnv3/layers';

if (process.env.MNV3_RELAXED_SIMD !== '0' && !relaxedSimdSupported()) setFlagsFromString('--experimental-wasm-relaxed-simd');
const { main } = await import('./cli.js');
process.exitCode = await main(process.argv.slice(2));
