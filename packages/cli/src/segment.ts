import * as tf from '@tensorflow/tfjs-core';
import { encodePng, encodeMaskPng, loadImage, writeNpy, type ClassMap } from '@mnv3/io';
import { VOC_PALETTE, overlayMask } from '@mnv3/transforms';
import { SEGMENTATION_MODELS, SEGMENTATION_RESIZE_SIZES, classShares, load, logitsToClassMaps, type ClassShare } from '@mnv3/segmentation';
import '@mnv3/segment-lraspp'; // registers LR-ASPP
import '@mnv3/segment-deeplab'; // registers DeepLabV3 and FCN
import { parseTaskArgs } from './args.js';
import { UsageError } from './errors.js';
import { checkOutputPath, writeFileAtomic } from './files.js';
import { isNpy, numberedPath, readNchwNpy } from './inputs.js';

export const SEGMENT_USAGE = `usage: mnv3 segment --model NAME --weights SRC [--num-classes N] [--aux-loss] [--resize 520|320]
                    [--json] [--save-raw FILE.npy] [--mask OUT.png] [--overlay OUT.png] INPUT...

  NAME     ${SEGMENTATION_MODELS.names().join(', ')}
  SRC      a .pth or .safetensors file, or a registry name (COCO_WITH_VOC_LABELS_V1, DEFAULT)
  INPUT    an image file (PNG, JPEG), resized to --resize (520, or 320 for speed) on its shorter
           side, segmented, and resized back; or a .npy of float32 [N,3,H,W] already-normalised input
  --aux-loss   build the auxiliary head, so checkpoints holding its keys load (TorchVision's aux_loss=True)
  --save-raw   the 'out' logits, float32 [N,C,H,W] at the input size
  --mask / --overlay   palette PNG of the classes / the mask blended over the photo (OUT-<i>.png for several)`;

interface Row {
  input: string;
  width: number;
  height: number;
  classes: ClassShare[];
}

export async function segmentCommand(argv: string[], out: (s: string) => void): Promise<void> {
  const { values, positionals, model, weights, numClasses } = parseTaskArgs(
    argv,
    {
      'aux-loss': { type: 'boolean' },
      resize: { type: 'string', default: '520' },
      'save-raw': { type: 'string' },
      mask: { type: 'string' },
      overlay: { type: 'string' },
    },
    SEGMENTATION_MODELS.names(),
    'COCO_WITH_VOC_LABELS_V1, DEFAULT',
  );
  const resizeSize = Number(values.resize);
  if (!SEGMENTATION_RESIZE_SIZES.includes(resizeSize)) {
    throw new UsageError(`--resize ${values.resize} is not supported; valid: ${SEGMENTATION_RESIZE_SIZES.join(', ')}`);
  }
  for (const [flag, file] of [['--save-raw', values['save-raw']], ['--mask', values.mask], ['--overlay', values.overlay]] as const) {
    const ext = flag === '--save-raw' ? '.npy' : '.png';
    if (file !== undefined && !file.toLowerCase().endsWith(ext)) throw new UsageError(`${flag} needs a ${ext} file name, got ${file}`);
    if (file !== undefined) await checkOutputPath(flag, file);
  }
  if (values.overlay && positionals.some(isNpy)) throw new UsageError('--overlay needs image inputs: a .npy input has no photo to draw on');

  const segmenter = await load(model, {
    weights,
    numClasses,
    auxLoss: values['aux-loss'],
    resizeSize,
    progress: values.progress,
  });
  try {
    const rows: Row[] = [];
    const maps: { map: ClassMap; input: string }[] = [];
    const raw: { data: Float32Array; shape: number[] }[] = [];
    const wantRaw = values['save-raw'] !== undefined;
    for (const input of positionals) {
      if (isNpy(input)) {
        const { data, shape } = await readNchwNpy(input);
        const x = tf.tidy(() => tf.transpose(tf.tensor4d(data, shape), [0, 2, 3, 1]) as tf.Tensor4D);
        const { out: logits, aux } = segmenter.forward(x);
        x.dispose();
        aux?.dispose();
        try {
          const classMaps = await logitsToClassMaps(logits);
          classMaps.forEach((map, i) => {
            const name = shape[0] > 1 ? `${input}[${i}]` : input;
            rows.push({ input: name, width: map.width, height: map.height, classes: classShares(map, segmenter.categories) });
            maps.push({ map, input });
          });
          if (wantRaw) {
            const nchw = tf.tidy(() => tf.transpose(logits, [0, 3, 1, 2]));
            raw.push({ data: (await nchw.data()) as Float32Array, shape: nchw.shape });
            nchw.dispose();
          }
        } finally {
          logits.dispose();
        }
      } else {
        const result = await segmenter.segment(input, { output: wantRaw ? 'logits' : 'classes' });
        rows.push({ input, width: result.width, height: result.height, classes: result.classes });
        maps.push({ map: result.classMap, input });
        if (wantRaw) {
          const c = segmenter.model.numClasses;
          const hw = result.width * result.height;
          const chw = new Float32Array(c * hw);
          for (let i = 0; i < hw; i++) for (let k = 0; k < c; k++) chw[k * hw + i] = result.scores![i * c + k]!;
          raw.push({ data: chw, shape: [1, c, result.height, result.width] });
        }
      }
    }
    if (wantRaw) {
      const [, c, h, w] = raw[0]!.shape as [number, number, number, number];
      if (raw.some((r) => r.shape[2] !== h || r.shape[3] !== w)) {
        throw new Error('--save-raw writes one [N,C,H,W] array: all inputs must have the same size');
      }
      const n = raw.reduce((a, r) => a + r.shape[0]!, 0);
      const all = new Float32Array(n * c * h * w);
      let offset = 0;
      for (const r of raw) {
        all.set(r.data, offset);
        offset += r.data.length;
      }
      await writeFileAtomic(values['save-raw']!, writeNpy({ dtype: 'float32', shape: [n, c, h, w], data: all }));
    }
    for (const [i, { map, input }] of maps.entries()) {
      if (values.mask) await writeFileAtomic(numberedPath(values.mask, i, maps.length), encodeMaskPng(map, VOC_PALETTE));
      if (values.overlay) {
        const img = await loadImage(input);
        const blended = overlayMask(img, map);
        await writeFileAtomic(numberedPath(values.overlay, i, maps.length), encodePng(blended));
      }
    }
    if (values.json) {
      out(JSON.stringify({ model, results: rows }));
    } else {
      for (const row of rows) {
        out(`${row.input} (${row.width}x${row.height})`);
        for (const c of row.classes) out(`  ${(c.share * 100).toFixed(2).padStart(6)}%  ${String(c.index).padStart(3)}  ${c.label}`);
      }
    }
  } finally {
    segmenter.dispose();
  }
}
