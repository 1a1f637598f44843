import { classification } from './classification.js';
import { detection } from './detection.js';
import { segmentation } from './segmentation.js';
import type { AnyTask } from './types.js';

/**
 * The tasks the page offers, in selector order. To add one, write a module exporting a
 * `TaskDescriptor` (see ./types.ts and ./classification.ts) and list it here:
 *
 * - classification (`./classification.ts`): top-5 in `target.panel`;
 * - detection (`./detection.ts`, Faster R-CNN MobileNetV3-Large FPN through `@mnv3/detect-frcnn`):
 *   boxes and labels on `target.overlay`, a list of boxes in `target.panel`;
 * - segmentation (`./segmentation.ts`, LR-ASPP / DeepLabV3 / FCN through `@mnv3/segment-lraspp` and
 *   `@mnv3/segment-deeplab`): the class mask on `target.overlay`, a legend in `target.panel`.
 */
export const TASKS: readonly AnyTask[] = [classification, detection, segmentation];

/** Tasks shown in the selector as coming, until their module is in TASKS. */
export const PLANNED_TASKS: readonly { id: string; label: string }[] = [];

export type { AnyTask, ModelBadge, RegistryWeights, RenderTarget, SettingValue, Settings, TaskDescriptor, TaskModel, TaskSetting, WeightsInput } from './types.js';
