import { DETECTION_MODELS, load, type DetectionResult } from '@mnv3/detection';
// Registers the Faster R-CNN builders, then RetinaNet's (the order `NAME` lists them in).
import '@mnv3/detect-frcnn';
import '@mnv3/detect-retinanet';
import { parseTaskArgs } from './args.js';
import { UsageError } from './errors.js';
import { checkOutputPath, writeFileAtomic } from './files.js';
import { isNpy, numberedPath, readNchwNpy } from './inputs.js';

export const DETECT_USAGE = `usage: mnv3 detect --model NAME --weights SRC [--num-classes N] [--score-thresh F] [--json]
                   [--draw OUT.png] INPUT...

  NAME     ${DETECTION_MODELS.names().join(', ')}
  SRC      a .pth or .safetensors file, or a registry name (COCO_V1, DEFAULT)
  INPUT    an image file (PNG, JPEG), or a .npy of float32 [3,H,W] in [0,1] (TorchVision's model
           input before the model's own transform), fed as is
  --score-thresh  minimum class probability of a detection (TorchVision's box_score_thresh for
           Faster R-CNN, score_thresh for RetinaNet; default 0.05)
  --draw   the image with boxes, names and scores drawn (OUT-<i>.png for several inputs)`;

export async function detectCommand(argv: string[], out: (s: string) => void): Promise<void> {
  const { values, positionals, model, weights, numClasses } = parseTaskArgs(
    argv,
    { 'score-thresh': { type: 'string' }, draw: { type: 'string' } },
    DETECTION_MODELS.names(),
    'COCO_V1, DEFAULT',
  );
  if (values.draw && !values.draw.toLowerCase().endsWith('.png')) throw new UsageError(`--draw needs a .png file name, got ${values.draw}`);
  if (values.draw && positionals.some(isNpy)) throw new UsageError('--draw needs image inputs: a .npy input has no photo to draw on');
  if (values.draw) await checkOutputPath('--draw', values.draw);
  let scoreThresh: number | undefined;
  if (values['score-thresh'] !== undefined) {
    scoreThresh = Number(values['score-thresh']);
    if (!(scoreThresh >= 0 && scoreThresh <= 1)) throw new UsageError(`--score-thresh needs a number in [0, 1], got "${values['score-thresh']}"`);
  }
  const detector = await load(model, { weights, numClasses, scoreThresh, progress: values.progress });
  try {
    const results: ({ input: string } & DetectionResult)[] = [];
    for (const input of positionals) {
      let r: DetectionResult;
      if (isNpy(input)) {
        const { data, shape } = await readNchwNpy(input);
        if (shape[0] !== 1) throw new Error(`${input}: expected one float32 [3,H,W] image, got a batch of ${shape[0]}`);
        const [, , h, w] = shape;
        const hwc = new Float32Array(data.length);
        for (let c = 0; c < 3; c++) for (let i = 0; i < h * w; i++) hwc[i * 3 + c] = data[c * h * w + i]!;
        r = await detector.detectFloat({ data: hwc, shape: [h, w, 3] });
      } else {
        r = await detector.detect(input);
      }
      results.push({ input, ...r });
    }
    if (values.draw) {
      for (const [i, r] of results.entries()) await writeFileAtomic(numberedPath(values.draw, i, results.length), await detector.drawPng(r.input, r));
    }
    if (values.json) {
      out(JSON.stringify({ model, results: results.map((r) => ({ input: r.input, boxes: r.boxes, labels: r.labels, scores: r.scores, names: r.names })) }));
    } else {
      for (const r of results) {
        out(`${r.input}: ${r.labels.length} detection(s)`);
        r.boxes.forEach((b, i) => out(`  ${r.scores[i]!.toFixed(3)}  ${r.names[i]!.padEnd(16)} [${b.map((v) => v.toFixed(1)).join(', ')}]`));
      }
    }
  } finally {
    detector.dispose();
  }
}
