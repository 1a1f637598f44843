/** Names of our custom tfjs kernels (registered for the `wasm` backend only). */
export const Mnv3Activation = 'Mnv3Activation';
export const Mnv3SqueezeExcite = 'Mnv3SqueezeExcite';
export const Mnv3DepthwiseConv2d = 'Mnv3DepthwiseConv2d';
export const Mnv3Conv2d = 'Mnv3Conv2d';
export const Mnv3GlobalAvgPool = 'Mnv3GlobalAvgPool';
export const Mnv3BilinearGather = 'Mnv3BilinearGather';

// The training path's kernels (src/kernels/train), registered by `@mnv3/layers/train`.
export const Mnv3ActivationGrad = 'Mnv3ActivationGrad';
export const Mnv3GlobalAvgPoolGrad = 'Mnv3GlobalAvgPoolGrad';
export const Mnv3GlobalAvgPoolFork = 'Mnv3GlobalAvgPoolFork';
export const Mnv3ScaleChannels = 'Mnv3ScaleChannels';
export const Mnv3ScaleChannelsGrad = 'Mnv3ScaleChannelsGrad';
export const Mnv3BatchNormTrain = 'Mnv3BatchNormTrain';
export const Mnv3BatchNormTrainGrad = 'Mnv3BatchNormTrainGrad';
export const Mnv3Conv2dTrain = 'Mnv3Conv2dTrain';
export const Mnv3Conv2dTrainGrad = 'Mnv3Conv2dTrainGrad';
export const Mnv3DepthwiseConv2dTrain = 'Mnv3DepthwiseConv2dTrain';
export const Mnv3DepthwiseConv2dTrainGrad = 'Mnv3DepthwiseConv2dTrainGrad';
export const Mnv3RunningStats = 'Mnv3RunningStats';
export const Mnv3RmspropStep = 'Mnv3RmspropStep';
export const Mnv3SgdStep = 'Mnv3SgdStep';
