// @mnv3/train-recipes (↔ torch.optim, torch.nn.functional.cross_entropy, TorchVision's
// references/classification): the optimisation numerics of TorchVision's classification recipe on
// tfjs — optimisers updating tf.Variables in place, LR schedules, the loss, EMA and checkpoint
// averaging. All float32 tensor math runs as tfjs ops on the app's backend (WASM in training).
export type { Gradients, GroupBase, OptimizerStateDict, ParamGroupInit, StateValue } from './optim/optimizer.js';
export { Optimizer } from './optim/optimizer.js';
export type { SGDOptions } from './optim/sgd.js';
export { SGD } from './optim/sgd.js';
export type { EpsPlacement, RMSpropOptions } from './optim/rmsprop.js';
export { EPS_PLACEMENTS, RMSprop } from './optim/rmsprop.js';
export type { AdamWOptions } from './optim/adamw.js';
export { AdamW } from './optim/adamw.js';
export { clipGradNorm } from './optim/clip-grad.js';
export type { CrossEntropyOptions } from './loss.js';
export { crossEntropy } from './loss.js';
export type { SchedulableOptimizer, Scheduler, SchedulerStateDict } from './lr-scheduler.js';
export { LRScheduler, StepLR, ExponentialLR, CosineAnnealingLR, LinearLR, ConstantLR, SequentialLR } from './lr-scheduler.js';
export type { LRNoiseOptions, NoiseType } from './lr-noise.js';
export { LRNoise, NOISE_TYPES } from './lr-noise.js';
export { TorchGenerator } from './generator.js';
export type { AvgFn, NamedTensors } from './swa-utils.js';
export { AveragedModel, swaAvg } from './swa-utils.js';
export type { AveragedCheckpoint, SetWeightDecayOptions, WeightDecayGroup } from './utils.js';
export { ExponentialMovingAverage, averageCheckpoints, emaDecay, setWeightDecay } from './utils.js';
export type { LrSchedulerArgs, OptimizerArgs } from './train.js';
export { LR_SCHEDULER_NAMES, LR_WARMUP_METHODS, OPTIMIZER_NAMES, createLrScheduler, createOptimizer } from './train.js';
export type { ArgType, FlagSpec, QatRecipe, Recipe, RecipeExtras, RecipeOverrides, TorchrunOptions, TrainPyArgs, TrainQuantizationArgs } from './recipes.js';
export {
  AUTO_AUGMENT_POLICIES,
  INTERPOLATIONS,
  QAT_RECIPE_MOBILENET_V3_LARGE,
  QAT_RECIPES,
  QAT_RECIPE_NAMES,
  RECIPES,
  RECIPE_MODELS,
  RECIPE_NAMES,
  RecipeError,
  TRAIN_PY_DEFAULTS,
  TRAIN_PY_FLAGS,
  TRAIN_QUANTIZATION_FLAGS,
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
} from './recipes.js';
export type { TrainCheckpointParts } from './checkpoint.js';
export { trainCheckpoint } from './checkpoint.js';
export type { EpochRecord, TrainHistory } from './history.js';
export { appendEpoch, formatEpochLog, formatLog, newHistory, parseHistory, pyFixed, pyFloatRepr, serializeHistory, truncateHistory } from './history.js';
export { ablationChart, comparisonChart, trainingChart } from './charts.js';
export type { AblationBar, ChartRun, TrainingChartOptions } from './charts.js';
// The trainer's platform-free core (Node's train() and pages use it) and its data pipeline.
export type { Classifier, EvalBatch, EvalResult, StepResult, TrainData, TrainerOptions } from './train-core.js';
export { TrainError, Trainer, buildClassifier, evalShard, evaluate, evaluateBatches, pipelineSpec, recipeWeights, recipeWeightsEntry, summarizeEval } from './train-core.js';
export type { Batch, BatchLoaderOptions, BatchSource, Replica } from './data/batches.js';
export { WorkerBatchLoader, distributedOrder, epochOrder, repeatedAugmentationOrder, repeatedAugmentationSamples } from './data/batches.js';
// Data parallelism's all-reduce (train() runs the replicas in Node; see replicas.ts).
export type { AverageResult } from './gradient-average.js';
export { GradientAverager, ReplicaAbortedError, gradientAverageBuffer } from './gradient-average.js';
export type { PackedImages, PipelineSpec } from './data/pipeline.js';
export { fillBatch, makeTransform, mixSeed, packUniform, sampleSeed, subset } from './data/pipeline.js';
export type { CutmixBox, MixSpec } from './data/mix.js';
export { batchMixSeed, cutmixBatch, cutmixBox, mixBatch, mixedTargets, mixupBatch, sampleBeta } from './data/mix.js';
