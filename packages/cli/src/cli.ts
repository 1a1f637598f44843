// The `mnv3` command: thin verbs over the packages, a contract other tools script against.
import { setupBackend } from '@mnv3/layers/backend';
import { BENCH_USAGE, benchCommand } from './bench.js';
import { CLASSIFY_USAGE, classifyCommand } from './classify.js';
import { COCO_EVAL_USAGE, cocoEvalCommand } from './coco-eval.js';
import { DETECT_USAGE, detectCommand } from './detect.js';
import { UsageError } from './errors.js';
import { QUANTIZE_USAGE, quantizeCommand } from './quantize.js';
import { SEGMENT_USAGE, segmentCommand } from './segment.js';
import { AVERAGE_USAGE, EVAL_USAGE, TRAIN_USAGE, averageCheckpointsCommand, evalCommand, trainCommand } from './train.js';

const VERBS: Record<string, { usage: string; run: (argv: string[], out: (s: string) => void) => Promise<void> }> = {
  classify: { usage: CLASSIFY_USAGE, run: classifyCommand },
  segment: { usage: SEGMENT_USAGE, run: segmentCommand },
  detect: { usage: DETECT_USAGE, run: detectCommand },
  quantize: { usage: QUANTIZE_USAGE, run: quantizeCommand },
  'coco-eval': { usage: COCO_EVAL_USAGE, run: cocoEvalCommand },
  bench: { usage: BENCH_USAGE, run: benchCommand },
  train: { usage: TRAIN_USAGE, run: trainCommand },
  'average-checkpoints': { usage: AVERAGE_USAGE, run: averageCheckpointsCommand },
  eval: { usage: EVAL_USAGE, run: evalCommand },
};

const USAGE = `usage: mnv3 <verb> [options]\n\nverbs: ${Object.keys(VERBS).join(', ')}\nrun 'mnv3 <verb> --help' for a verb's options`;

export async function main(argv: string[]): Promise<number> {
  const [verb, ...rest] = argv;
  if (!verb || verb === '--help' || verb === '-h') {
    console.log(USAGE);
    return verb ? 0 : 2;
  }
  const command = VERBS[verb];
  if (!command) {
    console.error(`mnv3: unknown verb "${verb}"; valid: ${Object.keys(VERBS).join(', ')}`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    console.log(command.usage);
    return 0;
  }
  try {
    await setupBackend({ backend: 'wasm' });
    await command.run(rest, (s) => console.log(s));
    return 0;
  } catch (e) {
    const err = e as Error & { code?: string };
    if (e instanceof UsageError || err.code?.startsWith('ERR_PARSE_ARGS')) {
      console.error(`mnv3 ${verb}: ${err.message}\n\n${command.usage}`);
      return 2;
    }
    console.error(`mnv3 ${verb}: error: ${err.message}`);
    if (process.env.MNV3_DEBUG) console.error(err.stack);
    return 1;
  }
}
