// @mnv3/io (↔ torchvision.io, torch.load, torch.hub): files in and out, without tfjs. Checkpoints
// (torch.save zip and legacy, safetensors, .npy), images (PNG / JPEG decode, PNG encode, label PNGs).
// Downloads live in `@mnv3/io/hub` (Node) and `@mnv3/io/hub-browser`; file reading in `@mnv3/io/node`.
export type { DType, HostTensor, HostTypedArray, StateDict } from './host-tensor.js';
export { DTYPE_SIZE, numel, allocate, toFloat32, float32Tensor, halfToFloat, floatToHalf, bfloat16ToFloat } from './host-tensor.js';
export type { CheckpointErrorCode } from './errors.js';
export { CheckpointError } from './errors.js';
export type { SafetensorsFile } from './safetensors.js';
export { readSafetensors, writeSafetensors } from './safetensors.js';
export type { TorchLoadOptions, ReadStateDictOptions } from './torch-load/index.js';
export { loadTorchCheckpoint, readStateDict, findStateDict, isHostTensor, PythonObject } from './torch-load/index.js';
export { isTuple } from './pickle.js';
export { OrderedDict, PyFloat, PickleValueError, pyFloat } from './pickler.js';
export type { TorchSaveOptions } from './torch-save.js';
export { saveTorchCheckpoint } from './torch-save.js';
export { readNpy, writeNpy } from './npy.js';
export type { ConvertOptions } from './convert.js';
export { convertToSafetensors, castFloat } from './convert.js';
export type { CheckpointFormat } from './checkpoint.js';
export { readCheckpoint, sniffCheckpointFormat } from './checkpoint.js';
export { HASH_REGEX, hashPrefixFromFileName } from './hub/hash.js';
export type { ClassMap, GrayImage, RgbImage, ImageErrorCode } from './image/image.js';
export { ImageError, MAX_IMAGE_PIXELS, assertClassMap, assertRgbImage, checkImageSize, paletteRows, rgbImage } from './image/image.js';
export type { ImageFormat, ImageHeader, DecodeImageOptions } from './image/decode.js';
export { decodeImage, readImageHeader, sniffImageFormat } from './image/decode.js';
export { decodeMaskPng, encodeMaskPng, encodePng } from './image/encode.js';
export type { BrowserImageSource, RgbaPixels } from './image/browser.js';
export { imageDataToRgb, readBrowserImage } from './image/browser.js';
export type { ImageSource } from './image/load-image.js';
export { loadImage } from './image/load-image.js';
export { roundHalfEven } from './round.js';
export type { BatchOptions } from './datasets/sampler.js';
export { batches, shuffledIndices } from './datasets/sampler.js';
export { FASHION_MNIST_CLASSES } from './datasets/fashion-mnist-classes.js';
