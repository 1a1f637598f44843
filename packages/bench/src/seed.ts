import type { BenchReport, ModelResult } from './report.js';

/**
 * TorchVision's published CPU inference seconds (the seed's tables; measured by TorchVision on
 * its machine, batch 1), by our benchmark's model names. Only their ratios travel between machines.
 */
export const SEED_CPU_SECONDS: Readonly<Record<string, number>> = {
  mobilenet_v3_large: 0.0411,
  mobilenet_v3_small: 0.0165,
  mobilenet_v2: 0.0608,
  resnet50: 0.2545,
  resnet18: 0.1032,
  fasterrcnn_mobilenet_v3_large_fpn: 0.8409,
  fasterrcnn_mobilenet_v3_large_320_fpn: 0.1679,
  fasterrcnn_resnet50_fpn: 4.1514,
  retinanet_resnet50_fpn: 4.8825,
  'lraspp_mobilenet_v3_large@520': 0.3278,
  'deeplabv3_mobilenet_v3_large@520': 0.5869,
  'fcn_mobilenet_v3_large@520': 0.3702,
  'deeplabv3_resnet50@520': 6.3531,
  'fcn_resnet50@520': 5.0146,
  'lraspp_mobilenet_v3_large@320': 0.1139,
  'deeplabv3_mobilenet_v3_large@320': 0.2121,
  'fcn_mobilenet_v3_large@320': 0.1571,
};

/** The seed's trade-offs: a heavier TorchVision model against the MobileNetV3 one that replaces it. */
export const SEED_PAIRS: readonly { heavy: string; light: string; claim: string }[] = [
  { heavy: 'resnet50', light: 'mobilenet_v3_large', claim: 'a replacement for ResNet50 at about 6x the speed' },
  { heavy: 'fasterrcnn_resnet50_fpn', light: 'fasterrcnn_mobilenet_v3_large_fpn', claim: 'the high-res MobileNetV3 detector about 5x faster than ResNet-50' },
  { heavy: 'retinanet_resnet50_fpn', light: 'fasterrcnn_mobilenet_v3_large_fpn', claim: 'RetinaNet ResNet-50 against the high-res MobileNetV3 detector' },
  { heavy: 'fasterrcnn_resnet50_fpn', light: 'fasterrcnn_mobilenet_v3_large_320_fpn', claim: 'the low-res MobileNetV3 detector against ResNet-50' },
  { heavy: 'fcn_resnet50@520', light: 'deeplabv3_mobilenet_v3_large@520', claim: 'DeepLabV3 MobileNetV3 matches FCN ResNet50 at about 8.5x the speed' },
  { heavy: 'deeplabv3_resnet50@520', light: 'deeplabv3_mobilenet_v3_large@520', claim: 'DeepLabV3 on ResNet-50 against MobileNetV3' },
  { heavy: 'fcn_resnet50@520', light: 'lraspp_mobilenet_v3_large@520', claim: 'LR-ASPP MobileNetV3 against FCN ResNet50' },
];

export interface SeedComparison {
  heavy: string;
  light: string;
  claim: string;
  /** heavy / light in TorchVision's published CPU seconds. */
  seed: number;
  /** heavy / light in mnv3's medians. */
  mnv3: number;
  /** heavy / light in PyTorch's medians here, when it ran. */
  pytorch: number | null;
}

/**
 * The seed's speed ratios beside the same ratios measured here, for the pairs whose rows both exist
 * and come from one run (times of different runs on a shared machine do not compare).
 */
export function seedComparisons(report: BenchReport): SeedComparison[] {
  const row = (m: string) => report.results.find((r) => r.model === m);
  const runOf = (r: ModelResult) => r.run ?? report.date;
  const torch = (r: ModelResult) => {
    const s = r.peers.pytorch;
    return s && !('missing' in s) ? s.median_ms : null;
  };
  return SEED_PAIRS.flatMap(({ heavy, light, claim }) => {
    const h = row(heavy);
    const l = row(light);
    if (!h || !l || runOf(h) !== runOf(l)) return [];
    const th = torch(h);
    const tl = torch(l);
    return [{ heavy, light, claim, seed: SEED_CPU_SECONDS[heavy]! / SEED_CPU_SECONDS[light]!, mnv3: h.ours.median_ms / l.ours.median_ms, pytorch: th !== null && tl !== null ? th / tl : null }];
  });
}

/** The comparisons as a markdown table. */
export function seedTable(report: BenchReport): string {
  const rows = seedComparisons(report).map((c) => [
    `${c.heavy} / ${c.light}`,
    c.claim,
    `${c.seed.toFixed(2)}×`,
    `${c.mnv3.toFixed(2)}×`,
    c.pytorch === null ? '—' : `${c.pytorch.toFixed(2)}×`,
  ]);
  if (!rows.length) return '';
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
  const head = ['heavy / light', 'the seed says', "TorchVision's CPU s ratio (seed)", 'mnv3 ratio here', 'PyTorch ratio here'];
  return [line(head), line(head.map(() => '---')), ...rows.map(line)].join('\n');
}
