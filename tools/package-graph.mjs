#!/usr/bin/env node
// The README's package graph (a Mermaid diagram: which published package imports which), made from
// the packages' package.json files. `node tools/package-graph.mjs` rewrites it in README.md;
// `--check` fails when the README's copy is stale (run by .ci/run).
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const packages = readdirSync(join(root, 'packages'))
  .map((dir) => JSON.parse(readFileSync(join(root, 'packages', dir, 'package.json'), 'utf8')))
  .filter((p) => !p.private);
const names = new Set(packages.map((p) => p.name));
const id = (name) => name.replace('@mnv3/', '').replace(/-/g, '_');
const deps = new Map(packages.map((p) => [p.name, Object.keys(p.dependencies ?? {}).filter((d) => names.has(d))]));
const reaches = (from, to, seen = new Set()) =>
  (deps.get(from) ?? []).some((d) => d === to || (!seen.has(d) && (seen.add(d), reaches(d, to, seen))));
const lines = ['```mermaid', 'graph BT'];
for (const p of packages.sort((a, b) => a.name.localeCompare(b.name))) {
  lines.push(`  ${id(p.name)}["${p.name}"]`);
  // An import another path already implies is left out, so the picture stays readable.
  const direct = deps.get(p.name).filter((d) => !deps.get(p.name).some((o) => o !== d && reaches(o, d)));
  for (const d of direct.sort()) lines.push(`  ${id(p.name)} --> ${id(d)}`);
}
lines.push('```');
const graph = lines.join('\n');

const readmePath = join(root, 'README.md');
const readme = readFileSync(readmePath, 'utf8');
const begin = '<!-- package-graph:begin (tools/package-graph.mjs) -->';
const end = '<!-- package-graph:end -->';
const i = readme.indexOf(begin);
const j = readme.indexOf(end);
if (i < 0 || j < i) {
  console.error(`README.md has no ${begin} … ${end} block`);
  process.exit(1);
}
const updated = `${readme.slice(0, i + begin.length)}\n${graph}\n${readme.slice(j)}`;
if (process.argv.includes('--check')) {
  if (updated !== readme) {
    console.error('README.md: the package graph is stale; run node tools/package-graph.mjs');
    process.exit(1);
  }
  console.log('README.md: package graph up to date');
} else {
  writeFileSync(readmePath, updated);
}
