// A weights table (TorchVision's `*_Weights` enum shape) as the page lists it.
import type { RegistryWeights } from './types.js';

/** Weights that ship inside the packages (FASHION_MNIST_V1): served with the page, no download. */
const isBuiltIn = (entry: RegistryWeights['entry']) => !/^https?:\/\/download\.pytorch\.org\//.test(entry.url);

/** The named entries of a table (DEFAULT is shown as the entry it aliases); none for `null`. */
export function tableWeights(table: Readonly<Record<string, RegistryWeights['entry']>> | null | undefined): RegistryWeights[] {
  if (!table) return [];
  return Object.entries(table)
    .filter(([key]) => key !== 'DEFAULT')
    .map(([key, entry]) => ({ name: key, isDefault: table.DEFAULT === entry, entry, builtIn: isBuiltIn(entry) }));
}
