/**
 * `@mnv3/io/hub`: download-and-cache for checkpoints in Node, the analogue of torch.hub's
 * `load_state_dict_from_url` / `download_url_to_file`. Node only (it uses `node:fs`, `node:crypto`);
 * browsers use `@mnv3/io/hub-browser`.
 */
export { cacheDir } from './cache-dir.js';
export type { DownloadOptions } from './download.js';
export { downloadWeights } from './download.js';
export { loadBytes } from './load-bytes.js';
export type { HubErrorCode } from './errors.js';
export { HubError } from './errors.js';
export type { BytesSource, ProgressCallback } from './hash.js';
export { HASH_REGEX, hashPrefixFromFileName, formatBytes } from './hash.js';
