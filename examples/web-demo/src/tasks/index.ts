import { classification } from './classification.js';
import type { AnyTask } from './types.js';

/**
 * The tasks the page offers, in selector order. To add one, write a module exporting a
 * `TaskDescriptor` (see ./types.ts and ./classification.ts) and list it here:
 *
 * - detection: `./detection.ts` with SSDlite320-MobileNetV3-Large (`@mnv3/detect`, not written
 *   yet); its `render` draws boxes and labels on `target.overlay`.
 * - segmentation: `./segmentation.ts` with LR-ASPP / DeepLabV3-MobileNetV3-Large (`@mnv3/segment`,
 *   not written yet); its `render` paints the class mask on `target.overlay` and a legend in
 *   `target.panel`.
 */
export const TASKS: readonly AnyTask[] = [classification];

/** Tasks shown in the selector as coming, until their module is in TASKS. */
export const PLANNED_TASKS: readonly { id: string; label: string }[] = [
  { id: 'detection', label: 'Detection (coming)' },
  { id: 'segmentation', label: 'Segmentation (coming)' },
];

export type { AnyTask, RegistryWeights, RenderTarget, TaskDescriptor, TaskModel, WeightsInput } from './types.js';
