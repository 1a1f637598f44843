export type { CloseOptions, CloseReport } from './close.js';
export { compareClose, assertClose, assertScaledClose, nchwToNhwc, nhwcTensor, nhwcTensorToNchw } from './close.js';
export type { Fixture } from './fixtures.js';
export { REPO_ROOT, ORACLE_PYTHON, fixtureDir, ensureFixtures, listFixtures, loadFixture, fixtureTensor } from './fixtures.js';
export { argmaxAgreement, expectSegmentationMatches } from './segmentation.js';
export type { RunResult } from './run.js';
export { MNV3_BIN, mnv3, runNode } from './run.js';
export { f32, hwcImage, ints, maxAbsDiff, nhwcMap } from './host.js';
export { concatBytes, mutateBytes, seededPick } from './fuzz.js';
