// `mnv3 train`, `mnv3 average-checkpoints` and `mnv3 eval`, run as users do on a tiny Fashion-MNIST
// subset at 32×32 (one epoch of a few steps), and the mistakes they refuse with exit code 2.
import { execFile } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodePng, loadTorchCheckpoint, toFloat32, type StateDict } from '@mnv3/io';
import { readFashionMnist } from '@mnv3/io/node';
import { MNV3_BIN, mnv3 } from '@mnv3/test-utils';

const RECIPE = 'mobilenet_v3_small-fashion-mnist';
const QAT = 'mobilenet_v3_small-fashion-mnist-qat';
const TINY = ['--image-size', '32', '--batch-size', '32', '--limit-train', '96', '--limit-val', '32', '--limit-test', '32'];
let dir: string;
let run: string;
/** `mnv3 ARGS…` under bash's `ulimit -f KIB`: the kernel fails any write past KIB KiB. */
function mnv3WithFileSizeLimit(kib: number, args: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const script = 'ulimit -f "$1"; shift; exec "$@"';
  return new Promise((ok) => {
    execFile('bash', ['-c', script, 'bash', String(kib), process.execPath, MNV3_BIN, ...args], (err, stdout, stderr) => ok({ code: err ? Number(err.code) : 0, stdout, stderr }));
  });
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'mnv3-train-cli-'));
  run = join(dir, 'fm');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('mnv3 train', () => {
  it('trains one tiny epoch: checkpoints, history, log, chart, test result', async () => {
    const { code, stdout, stderr } = await mnv3(['train', '--recipe', RECIPE, '--epochs', '1', '--output-dir', run, ...TINY]);
    expect(stderr).toContain('96 train / 32 val / 32 test images');
    expect(code).toBe(0);
    expect(stdout).toMatch(/^epoch 0: lr 0\.008000 train loss \d+\.\d{4} acc@1 [\d.]+ \| val loss [\d.]+ acc@1 [\d.]+ acc@5 [\d.]+ \| \d+ img\/s/m);
    expect(stdout).toMatch(/^test: acc@1 [\d.]+ acc@5 [\d.]+ loss [\d.]+ \(32 images\)$/m);
    for (const f of ['checkpoint.pth', 'model_0.pth', 'history.json', 'log.txt', 'training.svg', 'test.json']) expect(existsSync(join(run, f)), f).toBe(true);
    expect(readFileSync(join(run, 'training.svg'), 'utf8')).toMatch(/^<svg/);
  });

  it('--nproc-per-node 2 trains on two replicas (torchrun’s meaning: batch per replica), resumes on two, refuses one (exit 1, as any other change of a run)', async () => {
    const out = join(dir, 'ddp');
    const { code, stdout, stderr } = await mnv3(['train', '--recipe', RECIPE, '--epochs', '1', '--nproc-per-node', '2', '--output-dir', out, ...TINY]);
    expect(stderr).toContain('1 epochs on 2 replicas of batch 32');
    expect(code).toBe(0);
    expect(stdout).toMatch(/^epoch 0: lr 0\.008000 train loss \d+\.\d{4} acc@1 [\d.]+ \| val loss /m);
    const ckpt = loadTorchCheckpoint(new Uint8Array(readFileSync(join(out, 'checkpoint.pth')))) as Map<string, unknown>;
    expect((ckpt.get('args') as { attributes: Map<string, unknown> }).attributes.get('world_size')).toBe(2);
    const more = await mnv3(['train', '--resume', join(out, 'checkpoint.pth'), '--epochs', '2', ...TINY.slice(4)]);
    expect(more.stderr).toContain('2 epochs on 2 replicas of batch 32');
    expect(more.code).toBe(0);
    expect(more.stdout).toMatch(/^epoch 1: /m);
    const torchrun = await mnv3(['train', '--resume', join(out, 'checkpoint.pth'), '--print-torchrun']);
    expect(torchrun.stdout).toMatch(/^torchrun --nproc_per_node=2 train\.py .*--train-crop-size 32 /);
    expect(torchrun.stdout).not.toContain('--world-size');
    const one = await mnv3(['train', '--resume', join(out, 'checkpoint.pth'), '--epochs', '3', '--nproc-per-node', '1', ...TINY.slice(4)]);
    expect(one.code).toBe(1);
    expect(one.stderr).toMatch(/another run: world_size 2 \(this run: 1\)/);
    const qat = await mnv3(['train', '--recipe', QAT, '--weights', join(out, 'checkpoint.pth'), '--nproc-per-node', '2']);
    expect(qat.code).toBe(2);
    expect(qat.stderr).toMatch(/--nproc-per-node 2: the QAT recipes train on one process here/);
  });

  it('QAT: --recipe …-qat --weights FLOAT.pth trains, evaluates QAT and int8 models, writes quantized.safetensors and test.json', async () => {
    const out = join(dir, 'qat');
    const { code, stdout, stderr } = await mnv3([
      'train', '--recipe', QAT, '--weights', join(run, 'checkpoint.pth'), '--epochs', '1', '--num-observer-update-epochs', '0', '--num-batch-norm-update-epochs', '0', '--output-dir', out, ...TINY,
    ]);
    expect(stderr).toContain(`QAT of mobilenet_v3_small from ${join(run, 'checkpoint.pth')}, 96 train / 32 val / 32 test images, 1 epochs`);
    expect(code).toBe(0);
    expect(stdout).toMatch(/^epoch 0: lr 0\.0005000 train loss \d+\.\d{4} acc@1 [\d.]+ \| QAT val acc@1 [\d.]+ \| int8 val acc@1 [\d.]+ \| \d+ img\/s/m);
    expect(stdout).toMatch(/^test: int8 acc@1 [\d.]+ acc@5 [\d.]+ \(QAT acc@1 [\d.]+; int8 top-1 = QAT top-1 on [\d.]+% of 32 images\)$/m);
    for (const f of ['checkpoint.pth', 'model_0.pth', 'history.json', 'log.txt', 'training.svg', 'quantized.safetensors', 'test.json']) expect(existsSync(join(out, f)), f).toBe(true);
    expect(JSON.parse(readFileSync(join(out, 'test.json'), 'utf8')).test.images).toBe(32);
    // --resume continues from the checkpoint: epoch 1 only.
    const more = await mnv3(['train', '--recipe', QAT, '--weights', join(run, 'checkpoint.pth'), '--epochs', '2', '--num-observer-update-epochs', '0', '--num-batch-norm-update-epochs', '0', '--output-dir', out, '--resume', join(out, 'checkpoint.pth'), ...TINY]);
    expect(more.code).toBe(0);
    expect(more.stdout).toMatch(/^epoch 1: lr 0\.0005000 train loss /m);
    expect(more.stdout).not.toMatch(/^epoch 0:/m);
    expect(existsSync(join(out, 'model_1.pth'))).toBe(true);
  });

  it('QAT: refuses a missing --weights, a checkpoint of another architecture, observer / BatchNorm epochs past the last, --weights on a float recipe', async () => {
    const noWeights = await mnv3(['train', '--recipe', QAT, '--output-dir', join(dir, 'q2')]);
    expect(noWeights.code).toBe(2);
    expect(noWeights.stderr).toMatch(/--weights is required for mobilenet_v3_small-fashion-mnist-qat/);
    const late = await mnv3(['train', '--recipe', QAT, '--weights', join(run, 'checkpoint.pth'), '--epochs', '2', '--num-observer-update-epochs', '2']);
    expect(late.code).toBe(2);
    expect(late.stderr).toMatch(/--num-observer-update-epochs 2: observers are disabled after epoch 2 .*last epoch is 1/);
    const large: StateDict = new Map([['features.16.0.weight', { dtype: 'float32', shape: [1], data: new Float32Array(1) }]]);
    const { writeTorchCheckpoint } = await import('@mnv3/io/node');
    await writeTorchCheckpoint(join(dir, 'large.pth'), large);
    const other = await mnv3(['train', '--recipe', QAT, '--weights', join(dir, 'large.pth'), '--output-dir', join(dir, 'q3'), ...TINY]);
    expect(other.code).toBe(2);
    expect(other.stderr).toMatch(/17 feature blocks, so it is a mobilenet_v3_large, not a mobilenet_v3_small/);
    const float = await mnv3(['train', '--recipe', RECIPE, '--weights', join(run, 'checkpoint.pth')]);
    expect(float.code).toBe(2);
    expect(float.stderr).toMatch(/checkpoint\.pth: mobilenet_v3_small-fashion-mnist takes a weights name \(train\.py's --weights, e\.g\. FASHION_MNIST_V1\); a checkpoint file is continued with --resume, or quantized by the QAT recipes/);
  });

  it('QAT: --print-torchrun prints train_quantization.py\'s command', async () => {
    const { code, stdout } = await mnv3(['train', '--recipe', QAT, '--print-torchrun', '--data-path', '/data/fm', '--output-dir', 'out']);
    expect(code).toBe(0);
    expect(stdout.trim()).toMatch(
      /^torchrun --nproc_per_node=1 train_quantization\.py --data-path \/data\/fm --model mobilenet_v3_small --device cpu --batch-size 128 --epochs 3 --num-observer-update-epochs 2 --num-batch-norm-update-epochs 1 --workers 2 --lr 0\.0005 --wd 0\.00001 --lr-step-size 2 --val-resize-size 64 --val-crop-size 64 --train-crop-size 64 --output-dir out {2}# not expressible/,
    );
  });

  it('resumes from a checkpoint and trains the next epoch only, with a progress bar (--progress)', async () => {
    const out = join(dir, 'resumed');
    const { code, stdout, stderr } = await mnv3(['train', '--recipe', RECIPE, '--epochs', '2', '--output-dir', out, '--resume', join(run, 'checkpoint.pth'), '--progress', ...TINY]);
    expect(code).toBe(0);
    expect(stdout).not.toMatch(/^epoch 0:/m);
    expect(stdout).toMatch(/^epoch 1: lr 0\.006085/m);
    // The bar's last state: all 3 steps of epoch 1, the last step's loss, the rate.
    expect(stderr).toMatch(/^epoch 1 \[=+\] 3\/3 \| loss \d+\.\d{4} \| lr 0\.006085 \| \d+ img\/s \| ETA/m);
  });

  it('--resume CKPT alone continues its run: recipe, arguments and seed from the checkpoint, into its folder', async () => {
    const out = join(dir, 'continued');
    mkdirSync(out);
    copyFileSync(join(run, 'checkpoint.pth'), join(out, 'checkpoint.pth'));
    const limits = ['--limit-train', '96', '--limit-val', '32', '--limit-test', '32'];
    const { code, stdout, stderr } = await mnv3(['train', '--resume', join(out, 'checkpoint.pth'), '--epochs', '2', ...limits]);
    expect(stderr).toContain(`mnv3 train: ${RECIPE}: mobilenet_v3_small, 96 train / 32 val / 32 test images, 2 epochs → ${out}`);
    expect(code).toBe(0);
    expect(stdout).not.toMatch(/^epoch 0:/m);
    expect(stdout).toMatch(/^epoch 1: lr 0\.006085/m);
    // The very epoch the run resumed with --recipe and every flag repeated took (32×32, batch 32, seed 0).
    const epoch1 = (d: string) => (JSON.parse(readFileSync(join(d, 'history.json'), 'utf8')) as { epochs: { epoch: number; trainLoss: number }[] }).epochs.find((e) => e.epoch === 1);
    expect(epoch1(out)).toBeDefined();
    expect(epoch1(out)!.trainLoss).toBe(epoch1(join(dir, 'resumed'))!.trainLoss);
    // A flag that differs from the run's is refused, naming both values.
    const other = await mnv3(['train', '--resume', join(out, 'checkpoint.pth'), '--epochs', '3', '--auto-augment', 'ta_wide', ...limits]);
    expect(other.code).toBe(1);
    expect(other.stderr).toMatch(/another run: auto_augment null \(this run: "ta_wide"\); a resumed run keeps its arguments/);
  });

  it('a checkpoint write that fails (the disk full) stops the run, names the file and keeps the previous checkpoint', async () => {
    const out = join(dir, 'full-disk');
    mkdirSync(out);
    copyFileSync(join(run, 'checkpoint.pth'), join(out, 'checkpoint.pth'));
    const before = readFileSync(join(out, 'checkpoint.pth'));
    // A 2 MiB file-size limit: the kernel fails the ~25 MB checkpoint mid-write (EFBIG), as a full disk would (ENOSPC).
    const args = ['train', '--recipe', RECIPE, '--epochs', '2', '--output-dir', out, '--resume', join(out, 'checkpoint.pth'), ...TINY];
    const { code, stderr } = await mnv3WithFileSizeLimit(2048, args);
    expect(code).toBe(1);
    expect(stderr).toMatch(/mnv3 train: error: could not write \S+model_1\.pth after epoch 1: EFBIG: file too large.*; \S+checkpoint\.pth is unchanged/);
    expect(readFileSync(join(out, 'checkpoint.pth')).equals(before)).toBe(true);
    expect(readdirSync(out)).toEqual(['checkpoint.pth']);
    // With room again, the same command resumes from it.
    const again = await mnv3(args);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/^epoch 1: lr 0\.006085/m);
  });

  it('refuses a checkpoint of another recipe or learning-rate schedule (exit 1, naming the difference)', async () => {
    const { code, stderr } = await mnv3(['train', '--recipe', `${RECIPE}-full`, '--epochs', '2', '--output-dir', join(dir, 'x'), '--resume', join(run, 'checkpoint.pth'), ...TINY]);
    expect(code).toBe(1);
    expect(stderr).toMatch(/another run: recipe "mobilenet_v3_small-fashion-mnist" \(this run: "mobilenet_v3_small-fashion-mnist-full"\)/);
    const cosine = await mnv3(['train', '--recipe', RECIPE, '--epochs', '2', '--lr-scheduler', 'cosineannealinglr', '--output-dir', join(dir, 'x'), '--resume', join(run, 'checkpoint.pth'), ...TINY]);
    expect(cosine.code).toBe(1);
    expect(cosine.stderr).toMatch(/another run: lr_scheduler "steplr" \(this run: "cosineannealinglr"\)/);
  });

  it('--print-torchrun prints the reference command', async () => {
    const { code, stdout } = await mnv3(['train', '--recipe', 'mobilenet_v3_small', '--print-torchrun', '--data-path', '/data/imagenet']);
    expect(code).toBe(0);
    expect(stdout.trim()).toBe(
      'torchrun --nproc_per_node=8 train.py --data-path /data/imagenet --model mobilenet_v3_small --batch-size 128 --epochs 600 --opt rmsprop --lr 0.064 --wd 0.00001 --lr-step-size 2 --lr-gamma 0.973 --auto-augment imagenet --random-erase 0.2 --output-dir runs/mobilenet_v3_small',
    );
  });

  it("takes train.py's training flags as overrides of the recipe", async () => {
    const flags = ['--lr-scheduler', 'cosineannealinglr', '--lr-warmup-epochs', '2', '--lr-warmup-method', 'linear', '--model-ema-decay', '0.9998', '--label-smoothing', '0.05', '--lr-noise', '18,54', '--clip-grad-norm', '1.5', '--mixup-alpha', '0.2', '--cutmix-alpha', '1'];
    const p = await mnv3(['train', '--recipe', `${RECIPE}-full`, '--epochs', '60', ...flags, '--print-torchrun', '--data-path', '/data/fm', '--output-dir', 'out']);
    expect(p.code).toBe(0);
    expect(p.stdout).toContain(' --label-smoothing 0.05 --mixup-alpha 0.2 --cutmix-alpha 1 --lr-scheduler cosineannealinglr --lr-warmup-epochs 2 --lr-warmup-method linear ');
    expect(p.stdout).toContain(' --model-ema --model-ema-decay 0.9998 ');
    expect(p.stdout).toContain(' --clip-grad-norm 1.5 ');
    expect(p.stdout).toContain('LR noise over epochs [18, 54)');
    // And the trainer runs with them: cosine annealing over 2 epochs gives lr/2 at epoch 1.
    const { code, stdout } = await mnv3(['train', '--recipe', RECIPE, '--epochs', '2', '--lr', '0.01', '--lr-scheduler', 'cosineannealinglr', '--output-dir', join(dir, 'cosine'), ...TINY]);
    expect(code).toBe(0);
    expect(stdout).toMatch(/^epoch 0: lr 0\.01000 /m);
    expect(stdout).toMatch(/^epoch 1: lr 0\.005000 /m);
  });

  it('--auto-augment none drops the recipe\'s policy (train.py\'s default None, so the torchrun command has no --auto-augment)', async () => {
    const args = ['train', '--recipe', `${RECIPE}-full`, '--print-torchrun', '--data-path', '/data/fm', '--output-dir', 'out'];
    const withPolicy = await mnv3(args);
    expect(withPolicy.code).toBe(0);
    expect(withPolicy.stdout).toContain(' --auto-augment ta_wide ');
    const none = await mnv3([...args, '--auto-augment', 'none']);
    expect(none.code).toBe(0);
    expect(none.stdout).not.toContain('--auto-augment');
    expect(none.stdout).toContain(' --random-erase 0.2 ');
  });

  it.each([
    [['train'], /--recipe is required \(or --resume CKPT of a run to continue\); valid: mobilenet_v3_large, mobilenet_v3_small, mobilenet_v3_small-fashion-mnist, mobilenet_v3_small-fashion-mnist-full/],
    [['train', '--recipe', 'resnet9'], /unknown recipe "resnet9"; valid: mobilenet_v3_large/],
    [['train', '--recipe', RECIPE, '--epochs', '0'], /epochs \(--epochs\) must be ≥ 1, got 0/],
    [['train', '--recipe', RECIPE, '--lr-scheduler', 'polylr'], /lrScheduler \(--lr-scheduler\) must be one of steplr, cosineannealinglr, exponentiallr; got "polylr"/],
    [['train', '--recipe', RECIPE, '--model-ema-decay', 'high'], /--model-ema-decay needs a number, got "high"/],
    [['train', '--recipe', RECIPE, '--weights', 'IMAGENET9K'], /--weights: unknown weights "IMAGENET9K" for mobilenet_v3_small; valid: IMAGENET1K_V1, FASHION_MNIST_V1, DEFAULT/],
    [['train', '--recipe', RECIPE, '--ema'], /--ema is for the QAT recipes/],
    [['train', '--recipe', RECIPE, '--clip-grad-norm', '0'], /clipGradNorm \(--clip-grad-norm\) must be > 0 \(or null: no clipping\), got 0/],
    [['train', '--recipe', RECIPE, '--lr-noise', '9'], /--lr-noise needs START,END epochs with START < END \(e\.g\. 18,54\) or "none", got "9"/],
    [['train', '--recipe', RECIPE, '--val-size', '0'], /--val-size needs a positive integer, got "0"/],
    [['train', '--recipe', RECIPE, '--random-crop-padding', '2.5'], /--random-crop-padding needs an integer ≥ 0, got "2.5"/],
    [['train', '--recipe', 'mobilenet_v3_small', '--random-crop-padding', '8'], /randomCropPadding pads a RandomCrop; this recipe crops with RandomResizedCrop/],
    [['train', '--recipe', RECIPE, '--val-size', '60000', '--limit-train', '8'], /--val-size: valSize must be below Fashion-MNIST's 60000 training images, got 60000/],
    [['eval', '--model', 'mobilenet_v3_small', '--weights', 'w.pth', '--data', 'fashion-mnist', '--val-size', '1000'], /--val-size moves the cut between the train and val splits of fashion-mnist: pass --split train or val with it/],
    [['train', '--recipe', RECIPE, '--bogus'], /Unknown option '--bogus'/],
    [['train', '--recipe', RECIPE, '--resume', '/nonexistent.pth'], /--resume \/nonexistent.pth: no such file/],
    [['average-checkpoints', 'a.pth'], /--out is required/],
    [['average-checkpoints', '--out', '/tmp/x.pth'], /no CKPT given/],
    [['eval', '--model', 'alexnet', '--weights', 'w.pth', '--data', 'fashion-mnist'], /unknown model "alexnet"; valid: .*mobilenet_v3_small/],
    [['eval', '--model', 'mobilenet_v3_small', '--weights', 'w.pth'], /--data is required/],
    [['eval', '--model', 'mobilenet_v3_small', '--weights', 'w.pth', '--data', 'fashion-mnist', '--split', 'holdout'], /unknown --split "holdout"; valid: train, val, test/],
    [['eval', '--model', 'mobilenet_v3_small', '--weights', 'w.pth', '--data', '/some/folder', '--split', 'val'], /--split picks a split of fashion-mnist; an ImageFolder is evaluated whole/],
    [['eval', '--model', 'mobilenet_v3_small', '--weights', 'IMAGENET9K', '--data', 'fashion-mnist'], /unknown weights "IMAGENET9K" for mobilenet_v3_small; valid: IMAGENET1K_V1, FASHION_MNIST_V1, DEFAULT/],
  ])('usage error %j exits 2', async (args, message) => {
    const { code, stderr } = await mnv3(args);
    expect(code).toBe(2);
    expect(stderr).toMatch(message);
    expect(stderr).toContain('usage: mnv3');
  });
});

describe('mnv3 average-checkpoints and mnv3 eval', () => {
  it('averages checkpoints as TorchVision does and evaluates the result', async () => {
    const resumed = join(dir, 'resumed');
    const avg = join(dir, 'avg.pth');
    const a = await mnv3(['average-checkpoints', '--out', avg, join(run, 'model_0.pth'), join(resumed, 'model_1.pth')]);
    expect(a.code).toBe(0);
    const load = (p: string) => (loadTorchCheckpoint(new Uint8Array(readFileSync(p))) as Map<string, unknown>).get('model') as StateDict;
    const [m0, m1, mean] = [load(join(run, 'model_0.pth')), load(join(resumed, 'model_1.pth')), load(avg)];
    const key = 'classifier.3.weight';
    const x0 = toFloat32(m0.get(key)!);
    const x1 = toFloat32(m1.get(key)!);
    const m = toFloat32(mean.get(key)!);
    for (let i = 0; i < m.length; i += 97) expect(m[i]).toBeCloseTo((x0[i]! + x1[i]!) / 2, 6);

    const e = await mnv3(['eval', '--model', 'mobilenet_v3_small', '--weights', join(resumed, 'model_1.pth'), '--data', 'fashion-mnist', '--image-size', '32', '--limit', '32', '--json']);
    expect(e.code).toBe(0);
    const r = JSON.parse(e.stdout) as { acc1: number; acc5: number; loss: number; images: number };
    expect(r.images).toBe(32);
    // The run's own test.json evaluated the same 32 test images with the same weights.
    const test = JSON.parse(readFileSync(join(resumed, 'test.json'), 'utf8')) as { test: { acc1: number; loss: number } };
    expect(r.acc1).toBe(test.test.acc1);
    expect(r.loss).toBeCloseTo(test.test.loss, 5);
  });

  it('--val-size moves the train / val cut: recorded in the checkpoint, and eval --val-size finds the same val images', async () => {
    const out = join(dir, 'val1000');
    const { code, stderr } = await mnv3(['train', '--recipe', RECIPE, '--epochs', '1', '--val-size', '1000', '--random-crop-padding', '8', '--output-dir', out, ...TINY]);
    expect(code).toBe(0);
    expect(stderr).toContain('96 train / 32 val / 32 test images');
    const ckpt = loadTorchCheckpoint(new Uint8Array(readFileSync(join(out, 'checkpoint.pth')))) as Map<string, unknown>;
    const recorded = (ckpt.get('args') as { attributes: Map<string, unknown> }).attributes;
    expect(recorded.get('val_size')).toBe(1000);
    // The recipe pads by 4; the flag's 8 is what the run records (and what a resume must keep).
    expect(recorded.get('random_crop_padding')).toBe(8);
    const history = JSON.parse(readFileSync(join(out, 'history.json'), 'utf8')) as { epochs: { valLoss: number }[] };
    const args = ['eval', '--model', 'mobilenet_v3_small', '--weights', join(out, 'model_0.pth'), '--data', 'fashion-mnist', '--image-size', '32', '--limit', '32', '--split', 'val', '--json'];
    const moved = JSON.parse((await mnv3([...args, '--val-size', '1000'])).stdout) as { loss: number };
    expect(moved.loss).toBeCloseTo(history.epochs[0]!.valLoss, 5);
    const usual = JSON.parse((await mnv3(args)).stdout) as { loss: number };
    expect(usual.loss).not.toBeCloseTo(history.epochs[0]!.valLoss, 3);
  });

  it('--split val evaluates the images the run validated on (its history.json), --split train its training images', async () => {
    const history = JSON.parse(readFileSync(join(run, 'history.json'), 'utf8')) as { epochs: { valAcc1: number; valLoss: number }[] };
    const args = ['eval', '--model', 'mobilenet_v3_small', '--weights', join(run, 'model_0.pth'), '--data', 'fashion-mnist', '--image-size', '32', '--limit', '32', '--json'];
    const val = await mnv3([...args, '--split', 'val']);
    expect(val.code).toBe(0);
    const r = JSON.parse(val.stdout) as { split: string; acc1: number; loss: number; images: number };
    expect(r.split).toBe('val');
    expect(r.images).toBe(32);
    expect(r.acc1).toBe(history.epochs[0]!.valAcc1);
    expect(r.loss).toBeCloseTo(history.epochs[0]!.valLoss, 5);
    const train = await mnv3([...args, '--split', 'train']);
    expect(train.code).toBe(0);
    const t = JSON.parse(train.stdout) as { split: string; acc1: number; loss: number };
    expect(t.split).toBe('train');
    // The same 32 images (the first of the training file) as PNGs in class folders give the same result.
    const fm = await readFashionMnist({ train: true });
    expect(new Set(fm.labels.subarray(0, 32)).size).toBe(10); // every class folder exists, so folder i is class i
    const root = join(dir, 'train-head');
    for (let i = 0; i < 32; i++) {
      const rgb = new Uint8Array(784 * 3);
      for (let p = 0; p < 784; p++) rgb[3 * p] = rgb[3 * p + 1] = rgb[3 * p + 2] = fm.images[i * 784 + p]!;
      mkdirSync(join(root, String(fm.labels[i])), { recursive: true });
      writeFileSync(join(root, String(fm.labels[i]), `${i}.png`), encodePng({ width: 28, height: 28, data: rgb }));
    }
    const folder = await mnv3(['eval', '--model', 'mobilenet_v3_small', '--weights', join(run, 'model_0.pth'), '--data', root, '--image-size', '32', '--resize-size', '32', '--json']);
    expect(folder.code).toBe(0);
    const f = JSON.parse(folder.stdout) as { acc1: number; loss: number };
    expect(t.acc1).toBe(f.acc1);
    expect(t.loss).toBeCloseTo(f.loss, 5);
  });
});

describe('mnv3 eval on an ImageFolder', () => {
  it('evaluates PNGs in class folders, EMA or not', async () => {
    const fm = await readFashionMnist({ train: false });
    const root = join(dir, 'folder');
    for (const [c, cls] of ['0_tshirt', '1_trouser'].entries()) {
      mkdirSync(join(root, cls), { recursive: true });
      let k = 0;
      for (let i = 0; k < 5; i++) {
        if (fm.labels[i] !== c) continue;
        const rgb = new Uint8Array(784 * 3);
        for (let p = 0; p < 784; p++) rgb[3 * p] = rgb[3 * p + 1] = rgb[3 * p + 2] = fm.images[i * 784 + p]!;
        writeFileSync(join(root, cls, `${k++}.png`), encodePng({ width: 28, height: 28, data: rgb }));
      }
    }
    const e = await mnv3(['eval', '--model', 'mobilenet_v3_small', '--weights', join(run, 'model_0.pth'), '--data', root, '--image-size', '32', '--resize-size', '32']);
    expect(e.stderr).toBe('');
    expect(e.code).toBe(0);
    expect(e.stdout).toMatch(/^Acc@1 \d+\.\d{3} Acc@5 \d+\.\d{3} loss \d+\.\d{4} \(10 images\)$/m);
    const ema = await mnv3(['eval', '--model', 'mobilenet_v3_small', '--weights', join(run, 'model_0.pth'), '--ema', '--data', root]);
    expect(ema.code).toBe(1);
    expect(ema.stderr).toMatch(/checkpoint has no key "model_ema"/);
  });
});
