// torch.load without Python: the zip and legacy torch.save formats, and finding the state dict.
export type { ReadStateDictOptions, TorchLoadOptions } from './loader.js';
export { PythonObject, isHostTensor } from './loader.js';
export { loadTorchCheckpoint } from './load.js';
export { findStateDict, readStateDict } from './state-dict.js';
