// COCO annotation and results files → the typed objects COCOeval reads, checked entry by entry so
// that a malformed file gets an error naming the entry and field, not a TypeError from inside the
// evaluation.
import type { CocoAnnotation, CocoDataset, CocoResult } from './coco-eval.js';

/** What is wrong with a COCO file. */
export type CocoErrorCode = 'invalid-json' | 'invalid-structure' | 'unknown-image';

/**
 * A COCO annotation or results file that cannot be evaluated, with a machine-readable `code`.
 *
 * @example
 * try { parseCocoResults(text); } catch (e) { if (e instanceof CocoError) console.error(e.code, e.message); }
 */
export class CocoError extends Error {
  constructor(
    readonly code: CocoErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'CocoError';
  }
}

function parse(input: string | unknown, what: string): unknown {
  if (typeof input !== 'string') return input;
  try {
    return JSON.parse(input);
  } catch (e) {
    throw new CocoError('invalid-json', `${what} is not valid JSON: ${(e as Error).message}`);
  }
}

const bad = (where: string, expected: string, got: unknown) =>
  new CocoError('invalid-structure', `${where} must be ${expected}, got ${got === null ? 'null' : Array.isArray(got) ? 'a list' : typeof got === 'object' ? 'an object' : JSON.stringify(got)}`);

function record(v: unknown, where: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw bad(where, 'an object', v);
  return v as Record<string, unknown>;
}

function list(v: unknown, where: string): unknown[] {
  if (!Array.isArray(v)) throw bad(where, 'a list', v);
  return v;
}

function finite(v: unknown, where: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw bad(where, 'a finite number', v);
  return v;
}

function box(v: unknown, where: string): [number, number, number, number] {
  const b = list(v, where);
  if (b.length !== 4) throw new CocoError('invalid-structure', `${where} must be [x, y, width, height], got ${b.length} values`);
  return [finite(b[0], `${where}[0]`), finite(b[1], `${where}[1]`), finite(b[2], `${where}[2]`), finite(b[3], `${where}[3]`)];
}

/**
 * Reads a COCO annotation file (text, or already-parsed JSON) as pycocotools' `COCO` does for box
 * evaluation: `images[].id`, `categories[].id`, and per annotation `id`, `image_id`,
 * `category_id`, `bbox`, optional `area` and `iscrowd`. Other fields are ignored.
 *
 * @throws CocoError `invalid-json` or `invalid-structure`, naming the entry and field.
 * @example const gt = parseCocoDataset(await readFile('instances_val2017.json', 'utf8'));
 */
export function parseCocoDataset(input: string | unknown, what = 'the annotation file'): CocoDataset {
  const root = record(parse(input, what), what);
  const images = list(root.images, `${what}: "images"`).map((v, i) => ({ id: finite(record(v, `${what}: images[${i}]`).id, `${what}: images[${i}].id`) }));
  const categories = list(root.categories, `${what}: "categories"`).map((v, i) => {
    const c = record(v, `${what}: categories[${i}]`);
    return { id: finite(c.id, `${what}: categories[${i}].id`), ...(typeof c.name === 'string' ? { name: c.name } : {}) };
  });
  if (images.length === 0 || categories.length === 0) {
    throw new CocoError('invalid-structure', `${what} has ${images.length} images and ${categories.length} categories: box evaluation needs at least one of each`);
  }
  const annotations = list(root.annotations, `${what}: "annotations"`).map((v, i): CocoAnnotation => {
    const where = `${what}: annotations[${i}]`;
    const a = record(v, where);
    const iscrowd = a.iscrowd ?? 0;
    if (iscrowd !== 0 && iscrowd !== 1 && typeof iscrowd !== 'boolean') throw bad(`${where}.iscrowd`, '0, 1, true or false', iscrowd);
    return {
      id: finite(a.id, `${where}.id`),
      image_id: finite(a.image_id, `${where}.image_id`),
      category_id: finite(a.category_id, `${where}.category_id`),
      bbox: box(a.bbox, `${where}.bbox`),
      ...(a.area === undefined ? {} : { area: finite(a.area, `${where}.area`) }),
      iscrowd: iscrowd as CocoAnnotation['iscrowd'],
    };
  });
  return { images, categories, annotations };
}

/**
 * Reads a COCO results file (text, or already-parsed JSON): a list of
 * `{image_id, category_id, bbox: [x, y, w, h], score}`, as pycocotools' `COCO.loadRes` takes for
 * boxes. With `gt`, every `image_id` must be one of its images (pycocotools asserts the same).
 *
 * @throws CocoError `invalid-json`, `invalid-structure` or `unknown-image`.
 * @example const dets = parseCocoResults(text, gt);
 */
export function parseCocoResults(input: string | unknown, gt?: CocoDataset, what = 'the results file'): CocoResult[] {
  const images = gt ? new Set(gt.images.map((i) => i.id)) : null;
  return list(parse(input, what), `${what}: a results file`).map((v, i): CocoResult => {
    const where = `${what}: results[${i}]`;
    const d = record(v, where);
    const result: CocoResult = {
      image_id: finite(d.image_id, `${where}.image_id`),
      category_id: finite(d.category_id, `${where}.category_id`),
      bbox: box(d.bbox, `${where}.bbox`),
      score: finite(d.score, `${where}.score`),
    };
    if (images && !images.has(result.image_id)) {
      throw new CocoError('unknown-image', `${where}.image_id ${result.image_id} is not an image of the annotation file: results do not correspond to this COCO set`);
    }
    return result;
  });
}
