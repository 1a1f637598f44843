// Stands in for `@mnv3/layers/hub` (Node's file-system cache) in the browser bundle; see
// vite.config.ts. @mnv3/classify imports it only when running under Node, so nothing here runs.
const nodeOnly = (): never => {
  throw new Error('@mnv3/layers/hub is Node-only; in browsers use @mnv3/layers/hub-browser');
};
export const downloadWeights = nodeOnly;
export const loadBytes = nodeOnly;
export const cacheDir = nodeOnly;
