import type { RgbImage } from '@mnv3/io';
import { PIL_FONT, PIL_FONT_GLYPHS, type PilGlyph } from './pil-default-font.js';

export type Rgb = readonly [number, number, number];

export interface DrawBoundingBoxesOptions {
  /** One label per box, drawn at the box's top-left corner inside it. */
  labels?: readonly (string | null)[];
  /** One color per box, or one for all; default TorchVision's `_generate_color_palette`. */
  colors?: readonly Rgb[] | Rgb;
  /** Fill the boxes with their color at alpha 100/255. Default false. */
  fill?: boolean;
  /** Outline width in pixels. Default 1. */
  width?: number;
}

/** TorchVision's `_generate_color_palette(n)`: `(i · [2^25-1, 2^15-1, 2^21-1]) mod 255`. */
export function generateColorPalette(n: number): Rgb[] {
  const p = [2 ** 25 - 1, 2 ** 15 - 1, 2 ** 21 - 1];
  return Array.from({ length: n }, (_, i) => p.map((v) => Number((BigInt(i) * BigInt(v)) % 255n)) as unknown as Rgb);
}

/** PIL's `DIV255(in1·(255-a) + in2·a)` blend. */
function blend(dst: number, src: number, alpha: number): number {
  const t = dst * (255 - alpha) + src * alpha + 128;
  return ((t >> 8) + t) >> 8;
}

/**
 * `torchvision.utils.draw_bounding_boxes`: draws `(x1, y1, x2, y2)` boxes (truncated to integers,
 * inclusive, `width` nested outlines, as PIL's `ImageDraw.rectangle`), optional fills blended at
 * alpha 100, and labels in PIL's default bitmap font (6 px advance) at `(x1 + width + 1, y1 + width + 1)`.
 * Returns a new RGB image; characters outside ASCII 32–126 are drawn as `?`. (TorchVision tiles a
 * grayscale image to RGB first; do the same before calling.)
 *
 * @param boxes float `[N, 4]` row-major, in the image's pixels.
 * @example const drawn = drawBoundingBoxes(img, [10, 10, 50, 40], { labels: ['cat 0.93'], width: 2 });
 */
export function drawBoundingBoxes(image: RgbImage, boxes: Float32Array | readonly number[], options: DrawBoundingBoxesOptions = {}): RgbImage {
  const { width: W, height: H } = image;
  const C = image.channels ?? 3;
  if (C !== 3) throw new RangeError(`Only RGB images are supported: got ${C} channels`);
  if (image.data.length !== H * W * C) throw new RangeError(`image has ${image.data.length} values, ${W}×${H} RGB needs ${H * W * C}`);
  if (boxes.length % 4 !== 0) throw new RangeError(`boxes must have shape [N, 4] (x1, y1, x2, y2), got ${boxes.length} values`);
  const n = boxes.length / 4;
  for (let i = 0; i < n; i++) {
    if (boxes[4 * i]! > boxes[4 * i + 2]! || boxes[4 * i + 1]! > boxes[4 * i + 3]!) {
      throw new RangeError('Boxes need to be in (xmin, ymin, xmax, ymax) format. Use torchvision.ops.box_convert to convert them');
    }
  }
  const labels = options.labels ?? null;
  if (labels && labels.length !== n) {
    throw new RangeError(`Number of boxes (${n}) and labels (${labels.length}) mismatch. Please specify labels for each box.`);
  }
  let colors: readonly Rgb[];
  if (options.colors === undefined) colors = generateColorPalette(n);
  else if (options.colors.length > 0 && Array.isArray(options.colors[0])) {
    colors = options.colors as readonly Rgb[];
    if (colors.length < n) throw new RangeError(`Number of colors (${colors.length}) is less than number of boxes (${n}). `);
  } else colors = Array.from({ length: n }, () => options.colors as Rgb);
  const width = options.width ?? 1;
  const out = new Uint8Array(H * W * 3);
  out.set(image.data);
  const put = (x: number, y: number, rgb: Rgb, alpha = 255) => {
    if (x < 0 || y < 0 || x >= W || y >= H) return;
    const o = 3 * (y * W + x);
    for (let c = 0; c < 3; c++) out[o + c] = alpha === 255 ? rgb[c]! : blend(out[o + c]!, rgb[c]!, alpha);
  };
  for (let b = 0; b < n; b++) {
    const [x0, y0, x1, y1] = [0, 1, 2, 3].map((k) => Math.trunc(boxes[4 * b + k]!)) as [number, number, number, number];
    const color = colors[b]!;
    if (options.fill) for (let y = y0; y <= y1; y++) for (let x = x0; x <= x1; x++) put(x, y, color, 100);
    // PIL's ImagingDrawRectangle: `width` full-width rows at top and bottom, columns in between.
    for (let i = 0; i < width; i++) {
      for (let x = x0; x <= x1; x++) {
        put(x, y0 + i, color);
        put(x, y1 - i, color);
      }
      const [ya, yb] = [Math.min(y0 + width, y1 - width + 1), Math.max(y0 + width, y1 - width + 1)];
      for (let y = ya; y <= yb; y++) {
        put(x1 - i, y, color);
        put(x0 + i, y, color);
      }
    }
    const label = labels?.[b];
    if (label != null) {
      const margin = width + 1;
      const mask = textMask(label);
      for (let y = 0; y < PIL_FONT.ysize; y++) {
        for (let x = 0; x < mask.width; x++) if (mask.data[y * mask.width + x]) put(x0 + margin + x, y0 + margin + y, color);
      }
    }
  }
  return { data: out, width: W, height: H };
}

function glyphOf(ch: string): PilGlyph {
  const code = ch.codePointAt(0)!;
  return PIL_FONT_GLYPHS[(code >= 32 && code <= 126 ? code : 63) - 32]!;
}

/**
 * Pillow's `font.getmask(text)` for a bitmap font: a `textwidth × ysize` mask where each glyph's
 * bitmap is pasted (overwriting, zeros included, clipped to the mask) at `pen + box`.
 */
function textMask(text: string): { data: Uint8Array; width: number } {
  const chars = [...text];
  const width = chars.reduce((w, ch) => w + glyphOf(ch).dx, 0);
  const data = new Uint8Array(width * PIL_FONT.ysize);
  let pen = 0;
  for (const ch of chars) {
    const g = glyphOf(ch);
    const [dx0, dy0, dx1, dy1] = g.box;
    const gw = dx1 - dx0;
    for (let y = 0; y < dy1 - dy0; y++) {
      const my = dy0 + PIL_FONT.baseline + y;
      if (my < 0 || my >= PIL_FONT.ysize) continue;
      for (let x = 0; x < gw; x++) {
        const mx = pen + dx0 + x;
        if (mx < 0 || mx >= width) continue;
        data[my * width + mx] = g.rows[y]! & (1 << (gw - 1 - x)) ? 1 : 0;
      }
    }
    pen += g.dx;
  }
  return { data, width };
}
