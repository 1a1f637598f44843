// Where the browser benchmark's sections go in benchmarks/README.md: the Node pipeline's part, then
// the float browser section (after MARKER), then the int8 subsection (after INT8_MARKER). A run
// rewrites the section(s) of the rows it measured and keeps the rest as it was.

export const MARKER = '<!-- browser-results -->';
export const INT8_MARKER = '<!-- browser-int8-results -->';

/**
 * The README with `float` and / or `int8` (each a rendered section starting with its marker, or
 * null to keep what is there) in place.
 */
export function spliceSections(readme, { float = null, int8 = null }) {
  const at = readme.indexOf(MARKER);
  const int8At = readme.indexOf(INT8_MARKER);
  const head = at >= 0 ? readme.slice(0, at) : int8At >= 0 ? readme.slice(0, int8At) : `${readme.trimEnd()}\n\n`;
  const floatPart = float ?? (at >= 0 ? readme.slice(at, int8At > at ? int8At : undefined) : '');
  const int8Part = int8 ?? (int8At >= 0 ? readme.slice(int8At) : '');
  const gap = floatPart && int8Part && !floatPart.endsWith('\n\n') ? (floatPart.endsWith('\n') ? '\n' : '\n\n') : '';
  return `${head}${floatPart}${gap}${int8Part}`;
}
