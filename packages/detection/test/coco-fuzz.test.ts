// COCO annotation and results JSON under mutation: every case must evaluate or throw CocoError with
// a code, never a TypeError / RangeError from inside COCOeval, and within 1 s. `pnpm test` runs 200
// cases of each kind; `pnpm fuzz` at the root (MNV3_FUZZ_CASES=10000) the long run.
import { describe, expect, it } from 'vitest';
import { mutateBytes, seededPick } from '@mnv3/test-utils';
import { COCOeval, CocoError, parseCocoDataset, parseCocoResults } from '../src/eval/index.js';

const CASES = Number(process.env.MNV3_FUZZ_CASES ?? 200);

function dataset(pick: (n: number) => number) {
  const images = Array.from({ length: 6 }, (_, i) => ({ id: i + 1, file_name: `${i}.jpg`, width: 640, height: 480 }));
  const categories = [1, 2, 3].map((id) => ({ id, name: `c${id}` }));
  const annotations = Array.from({ length: 30 }, (_, i) => {
    const [w, h] = [5 + pick(200), 5 + pick(200)];
    return { id: i + 1, image_id: 1 + pick(6), category_id: 1 + pick(3), bbox: [pick(400), pick(300), w, h], area: w * h * 0.8, iscrowd: pick(8) === 0 ? 1 : 0 };
  });
  const results = Array.from({ length: 60 }, () => {
    const a = annotations[pick(30)]!;
    const [x, y, w, h] = a.bbox as [number, number, number, number];
    return { image_id: a.image_id, category_id: pick(4) ? a.category_id : 1 + pick(3), bbox: [x + pick(9) - 4, y + pick(9) - 4, w + pick(9), h], score: pick(1000) / 1000 };
  });
  return { gt: { info: {}, images, categories, annotations }, results };
}

/** What evaluating gave: 'ok', or the CocoError's code. Anything else is rethrown. */
function outcome(gtText: string, resultsText: string): string {
  try {
    const gt = parseCocoDataset(gtText);
    const E = new COCOeval(gt, parseCocoResults(resultsText, gt));
    E.evaluate();
    E.accumulate();
    E.summarize();
    if (E.stats.length !== 12 || E.stats.some((v) => !Number.isFinite(v))) throw new Error(`bad stats ${E.stats}`);
    return 'ok';
  } catch (e) {
    if (e instanceof CocoError) return `CocoError:${e.code}`;
    throw e;
  }
}

const REPLACEMENTS: unknown[] = [null, 'x', -1, 0, 1e308, -1e-300, true, [], {}, [1, 2, 3, 4, 5], [[[[]]]], '1', [null, null, null, null]];

/** A structure-aware mutation: one node (anywhere in the JSON tree) replaced, deleted or duplicated. */
function mutateTree(root: unknown, pick: (n: number) => number): unknown {
  const copy = structuredClone(root);
  const nodes: [Record<string, unknown> | unknown[], string | number][] = [];
  const walk = (v: unknown) => {
    if (Array.isArray(v)) {
      v.forEach((c, i) => {
        nodes.push([v, i]);
        walk(c);
      });
    } else if (v && typeof v === 'object') {
      for (const [k, c] of Object.entries(v)) {
        nodes.push([v as Record<string, unknown>, k]);
        walk(c);
      }
    }
  };
  walk(copy);
  const [parent, key] = nodes[pick(nodes.length)]!;
  const kind = pick(4);
  if (kind === 0) {
    if (Array.isArray(parent)) parent.splice(key as number, 1);
    else delete parent[key as string];
  } else if (kind === 1 && Array.isArray(parent)) {
    parent.splice(key as number, 0, structuredClone(parent[key as number]));
  } else {
    (parent as Record<string | number, unknown>)[key] = REPLACEMENTS[pick(REPLACEMENTS.length)];
  }
  return copy;
}

describe(`COCO JSON under ${CASES} mutations: evaluates or a CocoError, within 1 s`, () => {
  const { gt, results } = dataset(seededPick(7));
  const gtText = JSON.stringify(gt);
  const resultsText = JSON.stringify(results);
  const utf8 = (s: string) => new TextEncoder().encode(s);
  const text = (b: Uint8Array) => new TextDecoder().decode(b);

  it('the unmutated files evaluate, with a non-trivial AP', () => {
    expect(outcome(gtText, resultsText)).toBe('ok');
    const parsed = parseCocoDataset(gtText);
    const E = new COCOeval(parsed, parseCocoResults(resultsText, parsed));
    E.evaluate();
    E.accumulate();
    E.summarize();
    expect(E.stats[0]).toBeGreaterThan(0.05);
  });

  const kinds: [string, (pick: (n: number) => number) => [string, string]][] = [
    ['annotation file, bytes', (pick) => [text(mutateBytes(utf8(gtText), pick, 200)), resultsText]],
    ['results file, bytes', (pick) => [gtText, text(mutateBytes(utf8(resultsText), pick, 200))]],
    ['annotation file, structure', (pick) => [JSON.stringify(mutateTree(gt, pick)), resultsText]],
    ['results file, structure', (pick) => [gtText, JSON.stringify(mutateTree(results, pick))]],
  ];
  it.each(kinds)('%s', (name, make) => {
    const pick = seededPick(name.length * 7919);
    const outcomes: Record<string, number> = {};
    let worst = 0;
    for (let i = 0; i < CASES; i++) {
      const [a, b] = make(pick);
      const t0 = performance.now();
      const o = outcome(a, b);
      worst = Math.max(worst, performance.now() - t0);
      outcomes[o] = (outcomes[o] ?? 0) + 1;
    }
    console.log(`COCO ${name}: ${CASES} cases, worst ${worst.toFixed(1)} ms, ${JSON.stringify(outcomes)}`);
    expect(worst).toBeLessThan(1000);
    expect(Object.keys(outcomes).some((k) => k.startsWith('CocoError'))).toBe(true);
  }, Math.max(60_000, CASES * 20));

  it('hostile shapes: deep nesting, a huge results list, non-finite numbers', () => {
    expect(outcome('['.repeat(100_000) + ']'.repeat(100_000), resultsText)).toBe('CocoError:invalid-structure');
    expect(outcome(gtText, JSON.stringify(results).replace('"score":', '"score":1e999,"x":'))).toBe('CocoError:invalid-structure');
    expect(outcome(gtText, JSON.stringify(Array.from({ length: 20_000 }, (_, i) => ({ ...results[i % 60]!, score: (i % 997) / 997 }))))).toBe('ok');
    expect(outcome('{"images": [], "categories": [{"id": 1}], "annotations": []}', '[]')).toBe('CocoError:invalid-structure');
    expect(outcome(gtText.slice(0, 100), resultsText)).toBe('CocoError:invalid-json');
  });
});
