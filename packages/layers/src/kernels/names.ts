/** Names of our custom tfjs kernels (registered for the `wasm` backend only). */
export const Mnv3Activation = 'Mnv3Activation';
export const Mnv3SqueezeExcite = 'Mnv3SqueezeExcite';
export const Mnv3DepthwiseConv2d = 'Mnv3DepthwiseConv2d';
export const Mnv3Conv2d = 'Mnv3Conv2d';
export const Mnv3GlobalAvgPool = 'Mnv3GlobalAvgPool';
export const Mnv3BilinearGather = 'Mnv3BilinearGather';
