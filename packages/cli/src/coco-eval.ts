import { readFile } from 'node:fs/promises';
import { COCOeval, type CocoDataset, type CocoResult } from '@mnv3/detection/eval';
import { parseVerbArgs } from './args.js';
import { UsageError } from './errors.js';

export const COCO_EVAL_USAGE = `usage: mnv3 coco-eval --annotations GT.json --detections DETS.json [--json]

  GT.json    a COCO annotation file (images, annotations, categories)
  DETS.json  a COCO results list: [{image_id, category_id, bbox: [x, y, w, h], score}, …]
Prints the 12 numbers of pycocotools' COCOeval.summarize() for boxes, in its order;
--json prints {"stats": [12 numbers]}.`;

async function readJson(path: string, what: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new Error(`${what} ${path}: cannot read: ${(e as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new Error(`${what} ${path}: not valid JSON: ${(e as Error).message}`);
  }
}

export async function cocoEvalCommand(argv: string[], out: (s: string) => void): Promise<void> {
  const { values, positionals } = parseVerbArgs(argv, { annotations: { type: 'string' }, detections: { type: 'string' }, json: { type: 'boolean' } });
  if (positionals.length) throw new UsageError(`unexpected argument "${positionals[0]}"`);
  if (!values.annotations) throw new UsageError('--annotations GT.json is required');
  if (!values.detections) throw new UsageError('--detections DETS.json is required');
  const gt = (await readJson(values.annotations, 'annotations')) as CocoDataset;
  if (typeof gt !== 'object' || gt === null || !Array.isArray(gt.images) || !Array.isArray(gt.annotations) || !Array.isArray(gt.categories)) {
    throw new Error(`annotations ${values.annotations}: a COCO annotation file needs "images", "annotations" and "categories" lists`);
  }
  const dets = (await readJson(values.detections, 'detections')) as CocoResult[];
  if (!Array.isArray(dets)) throw new Error(`detections ${values.detections}: a COCO results file is a list of {image_id, category_id, bbox, score}`);
  dets.forEach((d, i) => {
    if (!d || typeof d.image_id !== 'number' || typeof d.category_id !== 'number' || typeof d.score !== 'number' || !Array.isArray(d.bbox) || d.bbox.length !== 4) {
      throw new Error(`detections ${values.detections}: entry ${i} is not {image_id, category_id, bbox: [x, y, w, h], score}`);
    }
  });
  const E = new COCOeval(gt, dets);
  E.evaluate();
  E.accumulate();
  E.summarize();
  if (values.json) out(JSON.stringify({ stats: E.stats }));
  else for (const line of E.summaryLines) out(line);
}
