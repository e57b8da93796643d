import type { Figure, Result } from './stats.js';

/** One column of a table: where the figures were measured, and the figures (absent: not measured there). */
export interface Column {
  header: string;
  figures?: Figure[];
}

const format = (figure: Figure | undefined): string => {
  if (!figure || Number.isNaN(figure.value)) return '–';
  const value = Number.isInteger(figure.value) ? String(figure.value) : figure.value.toFixed(1);
  return figure.unit === '×' ? `${value}×` : figure.unit ? `${value} ${figure.unit}` : value;
};

/**
 * Prints `title`, then a row per figure with a column per server; with two columns, a last one with
 * their ratio (second / first: above 1, the second server took longer or did more).
 */
export function printTable(title: string, columns: Column[]): void {
  const labels = [...new Set(columns.flatMap((column) => (column.figures ?? []).map((figure) => figure.label)))];
  const cell = (column: Column, label: string) => column.figures?.find((figure) => figure.label === label);
  const ratioHeader = columns.length === 2 ? `${columns[1]!.header}/${columns[0]!.header}` : undefined;
  const ratio = (label: string) => {
    const [first, second] = columns.map((column) => cell(column, label)?.value ?? NaN) as [number, number];
    return Number.isFinite(second / first) ? `${(second / first).toFixed(2)}×` : '–';
  };
  const rows = [
    ['figure', ...columns.map((column) => column.header), ...(ratioHeader ? [ratioHeader] : [])],
    ...labels.map((label) => [label, ...columns.map((column) => format(cell(column, label))), ...(ratioHeader ? [ratio(label)] : [])]),
  ];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  console.log(title);
  for (const row of rows) console.log(`  ${row.map((text, i) => (i === 0 ? text.padEnd(widths[i]!) : text.padStart(widths[i]!))).join('   ')}`);
  console.log('');
}

/** The results of several servers, one table per title (in the order they first appear). */
export function printResults(columns: Array<{ header: string; results?: Result[] }>): void {
  const titles = [...new Set(columns.flatMap((column) => (column.results ?? []).map((result) => result.title)))];
  for (const title of titles) {
    printTable(title, columns.map(({ header, results }) => ({ header, figures: results?.find((result) => result.title === title)?.figures })));
  }
}
