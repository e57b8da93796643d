/** One measured number, as a benchmark returns it: `label` is the same text on every server. */
export interface Figure {
  label: string;
  value: number;
  unit: string;
}

/** What a benchmark measured: the conditions (`title`, the same on every server) and its figures. */
export interface Result {
  title: string;
  figures: Figure[];
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

/** Percentiles (median and p95 unless told) and max of durations in ms, labelled `<label> median`, `<label> p95`, …. */
export function latency(label: string, durations: number[], percentiles = [50, 95]): Figure[] {
  const sorted = [...durations].sort((a, b) => a - b);
  return [
    ...percentiles.map((p) => ({ label: `${label} ${p === 50 ? 'median' : `p${p}`}`, value: percentile(sorted, p), unit: 'ms' })),
    { label: `${label} max`, value: sorted[sorted.length - 1] ?? NaN, unit: 'ms' },
  ];
}
