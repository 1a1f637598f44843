import { describe, expect, it } from 'vitest';
import { PyFloat, PythonObject, loadTorchCheckpoint, saveTorchCheckpoint } from '@mnv3/io';
import {
  QAT_RECIPE_MOBILENET_V3_LARGE,
  QAT_RECIPE_NAMES,
  RECIPE_NAMES,
  RecipeError,
  TRAIN_PY_FLAGS,
  assertTrainable,
  getQatRecipe,
  getRecipe,
  qatRecipeNamespace,
  recipeFromNamespace,
  recipeNamespace,
  renderTorchrun,
  renderTorchrunQuantization,
  torchrunUnsupported,
  trainerUnsupported,
} from '../src/index.js';

const paths = { dataPath: '/data/imagenet', outputDir: 'runs/mnv3' };

describe('recipes', () => {
  it("renders TorchVision's published MobileNetV3 commands (references/classification/README.md) exactly", () => {
    for (const model of ['mobilenet_v3_large', 'mobilenet_v3_small']) {
      expect(renderTorchrun(getRecipe(model), { nprocPerNode: 8, ...paths })).toBe(
        `torchrun --nproc_per_node=8 train.py --data-path /data/imagenet --model ${model} --batch-size 128 --epochs 600 --opt rmsprop --lr 0.064 --wd 0.00001 --lr-step-size 2 --lr-gamma 0.973 --auto-augment imagenet --random-erase 0.2 --output-dir runs/mnv3`,
      );
    }
    // nprocPerNode defaults to the reference's 8 GPUs; overrides show up as flags.
    expect(renderTorchrun(getRecipe('mobilenet_v3_large', { modelEma: true, labelSmoothing: 0.1, normWeightDecay: 0 }), paths)).toBe(
      'torchrun --nproc_per_node=8 train.py --data-path /data/imagenet --model mobilenet_v3_large --batch-size 128 --epochs 600 --opt rmsprop --lr 0.064 --wd 0.00001 --norm-weight-decay 0 --label-smoothing 0.1 --lr-step-size 2 --lr-gamma 0.973 --auto-augment imagenet --random-erase 0.2 --model-ema --output-dir runs/mnv3',
    );
  });

  it('refuses to render what train.py cannot express, or renders the nearest command with a comment', () => {
    const fashion = getRecipe('mobilenet_v3_small-fashion-mnist');
    expect(torchrunUnsupported(fashion)).toEqual(['RandomCrop(64, padding=4) (train.py crops with RandomResizedCrop)']);
    expect(() => renderTorchrun(fashion, { nprocPerNode: 2, ...paths })).toThrow(/train.py cannot express recipe mobilenet_v3_small-fashion-mnist: RandomCrop\(64, padding=4\)/);
    expect(renderTorchrun(fashion, { nprocPerNode: 2, dataPath: '/data/fashion mnist', outputDir: 'out', allowUnsupported: true })).toBe(
      "torchrun --nproc_per_node=2 train.py --data-path '/data/fashion mnist' --model mobilenet_v3_small --batch-size 128 --epochs 15 --opt rmsprop --lr 0.008 --wd 0.00001 --lr-step-size 1 --lr-gamma 0.7606 --val-resize-size 64 --val-crop-size 64 --train-crop-size 64 --output-dir out  # not expressible in train.py: RandomCrop(64, padding=4) (train.py crops with RandomResizedCrop)",
    );
    const full = getRecipe('mobilenet_v3_small-fashion-mnist-full');
    expect(renderTorchrun(full, { nprocPerNode: 1, dataPath: 'd', outputDir: 'o', allowUnsupported: true })).toBe(
      'torchrun --nproc_per_node=1 train.py --data-path d --model mobilenet_v3_small --batch-size 128 --epochs 30 --opt rmsprop --lr 0.008 --wd 0.00001 --label-smoothing 0.1 --lr-step-size 1 --lr-gamma 0.7606 --auto-augment ta_wide --random-erase 0.2 --model-ema --val-resize-size 64 --val-crop-size 64 --train-crop-size 64 --output-dir o  # not expressible in train.py: RandomCrop(64, padding=4) (train.py crops with RandomResizedCrop); stochastic depth 0.1 (TorchVision\'s MobileNetV3 has none); LR noise over epochs [9, 27) (timm\'s; train.py has none)',
    );
    expect(torchrunUnsupported(getRecipe('mobilenet_v3_large', { epsPlacement: 'inside' }))).toEqual(['RMSprop eps=0.0316 alpha=0.9 (inside the square root; train.py: 0.0316, 0.9, outside)']);
  });

  it("renders TorchVision's QAT command for MobileNetV3-Large (train_quantization.py)", () => {
    expect(renderTorchrunQuantization(QAT_RECIPE_MOBILENET_V3_LARGE, { nprocPerNode: 8, ...paths })).toBe(
      'torchrun --nproc_per_node=8 train_quantization.py --data-path /data/imagenet --model mobilenet_v3_large --lr 0.001 --wd 0.00001 --output-dir runs/mnv3',
    );
    expect(QAT_RECIPE_MOBILENET_V3_LARGE).toMatchObject({ batchSize: 32, numObserverUpdateEpochs: 4, numBatchNormUpdateEpochs: 3, lrStepSize: 30, lrGamma: 0.1, backend: 'qnnpack' });
    expect(renderTorchrunQuantization({ ...QAT_RECIPE_MOBILENET_V3_LARGE, epochs: 10, postTrainingQuantize: true }, { nprocPerNode: 1, ...paths })).toBe(
      'torchrun --nproc_per_node=1 train_quantization.py --data-path /data/imagenet --model mobilenet_v3_large --epochs 10 --lr 0.001 --wd 0.00001 --post-training-quantize --output-dir runs/mnv3',
    );
  });

  it("holds the issue's Fashion-MNIST recipe", () => {
    const r = getRecipe('mobilenet_v3_small-fashion-mnist');
    expect(r.args).toMatchObject({ model: 'mobilenet_v3_small', opt: 'rmsprop', lr: 0.008, momentum: 0.9, weightDecay: 1e-5, lrScheduler: 'steplr', lrStepSize: 1, lrGamma: 0.7606, batchSize: 128, epochs: 15, trainCropSize: 64 });
    expect(r).toMatchObject({ numClasses: 10, rmspropEps: 0.0316, rmspropAlpha: 0.9, epsPlacement: 'outside', trainCrop: 'RandomCrop', hflipProb: 0.5 });
    const full = getRecipe('mobilenet_v3_small-fashion-mnist-full');
    expect(full.args).toMatchObject({ labelSmoothing: 0.1, modelEma: true, randomErase: 0.2, autoAugment: 'ta_wide' });
    expect(full.stochasticDepthProb).toBeGreaterThan(0);
    expect(full.lrNoise).not.toBeNull();
    expect(full.averageLastImproved).toBe(3);
  });

  it('validates names and overrides, listing the valid ones', () => {
    expect(() => getRecipe('mobilenet_v3_tiny')).toThrow(new RecipeError('unknown-recipe', `unknown recipe "mobilenet_v3_tiny"; the recipes are ${RECIPE_NAMES.join(', ')}`));
    expect(() => getRecipe('mobilenet_v3_large', { learningRate: 0.1 } as never)).toThrow(/unknown recipe argument "learningRate"; the arguments are train.py's \(dataPath, model, .*lr, .*\) and dataset, numClasses/);
    expect(() => getRecipe('mobilenet_v3_large', { epochs: 2.5 })).toThrow(/epochs \(--epochs\) must be an integer, got 2.5/);
    expect(() => getRecipe('mobilenet_v3_large', { lr: Number.NaN })).toThrow(/lr \(--lr\) must be a finite number/);
    expect(() => getRecipe('mobilenet_v3_large', { opt: 'lamb' })).toThrow(/opt \(--opt\) must be one of sgd, sgd_nesterov, rmsprop, adamw; got "lamb"/);
    expect(() => getRecipe('mobilenet_v3_large', { autoAugment: 'rand' })).toThrow(/must be one of imagenet, cifar10, svhn, ra, ta_wide, augmix/);
    expect(() => getRecipe('mobilenet_v3_large', { batchSize: 0 })).toThrow(/batchSize \(--batch-size\) must be ≥ 1/);
    expect(() => getRecipe('mobilenet_v3_large', { lrStepSize: null as never })).toThrow(/cannot be null/);
    expect(() => getRecipe('mobilenet_v3_large', { numClasses: 1 })).toThrow(/numClasses must be an integer ≥ 2/);
    expect(() => getRecipe('mobilenet_v3_large', { valSize: 0 })).toThrow(/valSize must be null \(the dataset's default\) or an integer ≥ 1, got 0/);
    expect(() => getRecipe('mobilenet_v3_large', { randomCropPadding: 8 })).toThrow(/randomCropPadding pads a RandomCrop; this recipe crops with RandomResizedCrop \(no padding\), so it must stay 0, got 8/);
    expect(getRecipe('mobilenet_v3_small-fashion-mnist', { randomCropPadding: 8 }).randomCropPadding).toBe(8);
    expect(() => getRecipe('mobilenet_v3_large', { lrNoise: { noiseRangeT: [5, 2], noisePct: 0.67, noiseStd: 1, noiseSeed: 42 } })).toThrow(/lrNoise must be null or/);
    expect(() => renderTorchrun(getRecipe('mobilenet_v3_large'), { nprocPerNode: 0, ...paths })).toThrow(/nprocPerNode must be an integer ≥ 1/);
    expect(() => renderTorchrun(getRecipe('mobilenet_v3_large'), { dataPath: '', outputDir: 'o' })).toThrow(/needs dataPath/);
    // Overrides give a new recipe; the table is untouched.
    expect(getRecipe('mobilenet_v3_large', { epochs: 3, lrScheduler: 'CosineAnnealingLR' }).args).toMatchObject({ epochs: 3, lrScheduler: 'cosineannealinglr' });
    expect(getRecipe('mobilenet_v3_large').args.epochs).toBe(600);
  });

  it('lists the train.py arguments the trainer does not implement (the recipes themselves set none; mixup, cutmix, clipping, repeated augmentation and --weights it does)', () => {
    for (const name of RECIPE_NAMES) expect(trainerUnsupported(getRecipe(name)), name).toEqual([]);
    const r = getRecipe('mobilenet_v3_large', { mixupAlpha: 0.2, cutmixAlpha: 1, clipGradNorm: 5, raSampler: true, amp: true, autoAugment: 'augmix', weights: 'IMAGENET1K_V1', testOnly: true });
    expect(trainerUnsupported(r)).toEqual([
      "--amp (CUDA's mixed precision; the WASM backend trains in float32)",
      '--auto-augment augmix (AugMix is not ported)',
      '--test-only (evaluation only: evaluate() or mnv3 eval)',
    ]);
    expect(() => assertTrainable(r)).toThrow(RecipeError);
    // PyTorch can train it: the torchrun command renders these flags.
    expect(renderTorchrun(r, { dataPath: '/data', outputDir: 'out' })).toMatch(/--mixup-alpha 0\.2 --cutmix-alpha 1 .*--clip-grad-norm 5/);
  });

  it("gives train.py's Namespace: every flag in parser order with train.py's types, then distributed and our extras", () => {
    const ns = recipeNamespace(getRecipe('mobilenet_v3_small-fashion-mnist'));
    expect(ns.className).toBe('argparse.Namespace');
    const keys = [...ns.attributes.keys()];
    expect(keys.slice(0, TRAIN_PY_FLAGS.length)).toEqual(TRAIN_PY_FLAGS.map((f) => f.dest));
    expect(keys.slice(TRAIN_PY_FLAGS.length, TRAIN_PY_FLAGS.length + 2)).toEqual(['distributed', 'recipe']);
    expect(ns.attributes.get('label_smoothing')).toEqual(new PyFloat(0));
    expect(ns.attributes.get('lr')).toEqual(new PyFloat(0.008));
    expect(ns.attributes.get('epochs')).toBe(15);
    expect(ns.attributes.get('auto_augment')).toBeNull();
    expect(ns.attributes.get('model_ema')).toBe(false);
  });

  it('reads a recipe back from its Namespace, through a pickled checkpoint too: every argument and extra', () => {
    const tuned = getRecipe('mobilenet_v3_small-fashion-mnist-full', {
      epochs: 45, lrScheduler: 'cosineannealinglr', lrWarmupEpochs: 2, lrWarmupMethod: 'linear', modelEmaDecay: 0.9998,
      autoAugment: 'imagenet', normWeightDecay: 0, lrNoise: { noiseRangeT: [13, 40], noisePct: 0.5, noiseStd: 0.8, noiseSeed: 7 }, hflipProb: 0.25,
      valSize: 1000,
    });
    expect(recipeNamespace(tuned).attributes.get('val_size')).toBe(1000);
    for (const recipe of [...RECIPE_NAMES.map((n) => getRecipe(n)), tuned]) {
      expect(recipeFromNamespace(recipeNamespace(recipe)), recipe.name).toEqual(recipe);
      const pickled = loadTorchCheckpoint(saveTorchCheckpoint(new Map([['args', recipeNamespace(recipe)]]))) as Map<string, unknown>;
      expect(recipeFromNamespace(pickled.get('args')), `${recipe.name} (pickled)`).toEqual(recipe);
    }
    // Overrides go on top of the saved arguments; undefined ones leave them.
    const longer = recipeFromNamespace(recipeNamespace(tuned), { epochs: 90, lr: undefined });
    expect(longer).toEqual({ ...tuned, args: { ...tuned.args, epochs: 90 } });
    // torch's train.py writes no recipe: nothing to continue.
    const torchArgs = new PythonObject('argparse.Namespace', new Map(recipeNamespace(tuned).attributes));
    torchArgs.attributes.delete('recipe');
    expect(() => recipeFromNamespace(torchArgs)).toThrow(/name no recipe/);
    expect(() => recipeFromNamespace({ epochs: 3 })).toThrow(RecipeError);
  });

  it('holds the Fashion-MNIST QAT recipe and checks its observer / BatchNorm epochs against the run', () => {
    expect(QAT_RECIPE_NAMES).toEqual(['mobilenet_v3_small-fashion-mnist-qat']);
    const r = getQatRecipe('mobilenet_v3_small-fashion-mnist-qat');
    expect(r.args).toMatchObject({ model: 'mobilenet_v3_small', backend: 'qnnpack', batchSize: 128, epochs: 3, lr: 0.0005, momentum: 0.9, weightDecay: 1e-5, lrStepSize: 2, lrGamma: 0.1, numObserverUpdateEpochs: 2, numBatchNormUpdateEpochs: 1 });
    expect(r.base.name).toBe('mobilenet_v3_small-fashion-mnist');
    expect(getQatRecipe(r.name, {}, { trainCropSize: 32, valCropSize: 32, valResizeSize: 32 }).base.args.trainCropSize).toBe(32);
    expect(() => getQatRecipe('mobilenet_v3_small-qat')).toThrow(/unknown QAT recipe "mobilenet_v3_small-qat"; valid: mobilenet_v3_small-fashion-mnist-qat/);
    expect(() => getQatRecipe(r.name, { epochs: 2 })).toThrow(new RecipeError('invalid-value', '--num-observer-update-epochs 2: observers are disabled after epoch 2 (0-based, as train_quantization.py), but the run\'s last epoch is 1: pass 0 … 1, or more --epochs'));
    expect(() => getQatRecipe(r.name, { numBatchNormUpdateEpochs: -1 })).toThrow(/num-batch-norm-update-epochs/);
    expect(() => getQatRecipe(r.name, { lr: 0 })).toThrow(/lr must be > 0/);
    const ns = qatRecipeNamespace(r);
    expect(ns.className).toBe('argparse.Namespace');
    expect(ns.attributes.get('num_observer_update_epochs')).toBe(2);
    expect(ns.attributes.get('lr')).toBeInstanceOf(PyFloat);
    expect(ns.attributes.get('recipe')).toBe(r.name);
  });
});
