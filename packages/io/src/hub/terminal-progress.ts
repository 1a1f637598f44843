/**
 * The terminal progress bar for downloads, drawn by `cli-progress`, which is imported lazily so that
 * nothing pulls it in unless a bar is actually shown.
 */
import type * as CliProgress from 'cli-progress';
import { formatBytes } from './hash.js';

/** A running progress display. */
export interface ProgressBar {
  update(received: number, total: number | undefined): void;
  /** Draws the final state and releases the terminal (idempotent). */
  stop(): void;
}

/** Where and how to draw the bar. */
export interface TerminalProgressOptions {
  /** Shown before the bar, e.g. the file name. */
  label: string;
  /** The stream to draw on (stderr in practice). */
  stream: NodeJS.WriteStream;
  /**
   * Draw even when the stream is not a TTY (one line per update, every couple of seconds, then a
   * final line), as `progress: true` asks for.
   */
  force: boolean;
}

/**
 * Starts a bar for a download of `total` bytes (`undefined`: unknown size, bytes counted only).
 * Returns `undefined` when `cli-progress` cannot be loaded: a missing bar never fails a download.
 */
export async function startTerminalProgress(
  total: number | undefined,
  options: TerminalProgressOptions,
): Promise<ProgressBar | undefined> {
  let SingleBar: typeof CliProgress.SingleBar;
  try {
    SingleBar = (await import('cli-progress')).default.SingleBar;
  } catch {
    return undefined;
  }
  const known = total !== undefined;
  const bar = new SingleBar({
    stream: options.stream,
    format: known
      ? `${options.label} [{bar}] {percentage}% | {got}/{size} | ETA {eta_formatted}`
      : `${options.label} {got}`,
    noTTYOutput: options.force,
    hideCursor: false,
    clearOnComplete: false,
    gracefulExit: false, // its SIGINT handler would keep Ctrl-C from ending the process
    etaBuffer: 50,
    barsize: 30,
  });
  const size = known ? formatBytes(total) : '?';
  bar.start(known ? total : 1, 0, { got: formatBytes(0), size });
  let stopped = false;
  return {
    update(received) {
      if (!stopped) bar.update(known ? Math.min(received, total) : 0, { got: formatBytes(received), size });
    },
    stop() {
      if (stopped) return;
      stopped = true;
      bar.stop();
    },
  };
}
