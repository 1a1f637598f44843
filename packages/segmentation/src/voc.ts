/**
 * PASCAL VOC's 21 classes in TorchVision's order (`torchvision.models._meta._VOC_CATEGORIES`),
 * the label set of TorchVision's COCO-with-VOC-labels segmentation checkpoints. Index 0 is the
 * background; label maps use 255 for "ignore" (object borders).
 */
export const VOC_CATEGORIES: readonly string[] = Object.freeze([
  '__background__',
  'aeroplane',
  'bicycle',
  'bird',
  'boat',
  'bottle',
  'bus',
  'car',
  'cat',
  'chair',
  'cow',
  'diningtable',
  'dog',
  'horse',
  'motorbike',
  'person',
  'pottedplant',
  'sheep',
  'sofa',
  'train',
  'tvmonitor',
]);

/** The label VOC masks use for pixels that are not scored (object borders, "difficult" areas). */
export const VOC_IGNORE_INDEX = 255;
