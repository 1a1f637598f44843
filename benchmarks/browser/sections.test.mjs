import { describe, expect, it } from 'vitest';
import { INT8_MARKER, MARKER, spliceSections } from './sections.mjs';

const NODE = '# Benchmarks\n\nNode table\n';
const float = (v) => `${MARKER}\n## Browser (Chromium)\n\nfloat ${v}\n`;
const int8 = (v) => `${INT8_MARKER}\n### int8\n\nint8 ${v}\n`;

describe('the browser sections of benchmarks/README.md', () => {
  it('adds the float section, then the int8 subsection after it', () => {
    const a = spliceSections(NODE, { float: float(1) });
    expect(a).toBe(`${NODE}\n${float(1)}`);
    const b = spliceSections(a, { int8: int8(1) });
    expect(b).toBe(`${NODE}\n${float(1)}\n${int8(1)}`);
  });

  it('a float run keeps the int8 subsection, an int8 run keeps the float section', () => {
    const both = `${NODE}\n${float(1)}\n${int8(1)}`;
    expect(spliceSections(both, { float: float(2) })).toBe(`${NODE}\n${float(2)}\n${int8(1)}`);
    expect(spliceSections(both, { int8: int8(2) })).toBe(`${NODE}\n${float(1)}\n${int8(2)}`);
    expect(spliceSections(both, { float: float(3), int8: int8(3) })).toBe(`${NODE}\n${float(3)}\n${int8(3)}`);
  });

  it('an int8 run on a README with no browser section yet', () => {
    expect(spliceSections(NODE, { int8: int8(1) })).toBe(`${NODE}\n${int8(1)}`);
    expect(spliceSections(`${NODE}\n${int8(1)}`, { float: float(1) })).toBe(`${NODE}\n${float(1)}\n${int8(1)}`);
  });
});
