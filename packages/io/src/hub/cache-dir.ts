import { homedir } from 'node:os';
import { join } from 'node:path';

/**
 * The directory where downloaded checkpoints are cached (the analogue of torch.hub's
 * `$TORCH_HOME/hub/checkpoints`), first match wins:
 *
 * 1. `$MNV3_HOME/checkpoints` when `MNV3_HOME` is set and non-empty;
 * 2. `$XDG_CACHE_HOME/mnv3/checkpoints` when `XDG_CACHE_HOME` is set and non-empty;
 * 3. `~/.cache/mnv3/checkpoints` otherwise.
 *
 * The directory is not created here; {@link downloadWeights} creates it when it first downloads.
 *
 * @param env the environment to read (default `process.env`), for tests and embedding.
 */
export function cacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const mnv3Home = env.MNV3_HOME;
  if (mnv3Home) return join(mnv3Home, 'checkpoints');
  const xdg = env.XDG_CACHE_HOME;
  if (xdg) return join(xdg, 'mnv3', 'checkpoints');
  return join(homedir(), '.cache', 'mnv3', 'checkpoints');
}
