import { readFile } from 'node:fs/promises';
import { COCOeval, parseCocoDataset, parseCocoResults } from '@mnv3/detection/eval';
import { parseVerbArgs } from './args.js';
import { UsageError } from './errors.js';

export const COCO_EVAL_USAGE = `usage: mnv3 coco-eval --annotations GT.json --detections DETS.json [--json]

  GT.json    a COCO annotation file (images, annotations, categories)
  DETS.json  a COCO results list: [{image_id, category_id, bbox: [x, y, w, h], score}, …]
Prints the 12 numbers of pycocotools' COCOeval.summarize() for boxes, in its order;
--json prints {"stats": [12 numbers]}.`;

async function readText(path: string, what: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (e) {
    throw new Error(`${what} ${path}: cannot read: ${(e as Error).message}`);
  }
}

export async function cocoEvalCommand(argv: string[], out: (s: string) => void): Promise<void> {
  const { values, positionals } = parseVerbArgs(argv, { annotations: { type: 'string' }, detections: { type: 'string' }, json: { type: 'boolean' } });
  if (positionals.length) throw new UsageError(`unexpected argument "${positionals[0]}"`);
  if (!values.annotations) throw new UsageError('--annotations GT.json is required');
  if (!values.detections) throw new UsageError('--detections DETS.json is required');
  const gt = parseCocoDataset(await readText(values.annotations, 'annotations'), `annotations ${values.annotations}`);
  const dets = parseCocoResults(await readText(values.detections, 'detections'), gt, `detections ${values.detections}`);
  const E = new COCOeval(gt, dets);
  E.evaluate();
  E.accumulate();
  E.summarize();
  if (values.json) out(JSON.stringify({ stats: E.stats }));
  else for (const line of E.summaryLines) out(line);
}
