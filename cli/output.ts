/** Where the CLI writes: the process's streams, or a test's buffers. */
export interface Io {
  out(text: string): void;
  err(text: string): void;
  /** Whether stderr is a terminal (progress is then animated in place). */
  interactive: boolean;
}

export const processIo: Io = {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
  interactive: Boolean(process.stderr.isTTY),
};

type Cell = string | number | boolean | null | undefined | string[];
const cell = (value: Cell) => (Array.isArray(value) ? value.join(',') : value === null || value === undefined ? '-' : String(value));

/** Rows as an aligned text table with upper-case headers. */
export function table(columns: string[], rows: Cell[][]): string {
  const text = [columns, ...rows.map((row) => row.map(cell))];
  const widths = columns.map((_, i) => Math.max(...text.map((row) => (row[i] as string).length)));
  return `${text.map((row) => row.map((value, i) => (i === row.length - 1 ? value : (value as string).padEnd(widths[i]!))).join('  ')).join('\n')}\n`;
}

/** `key  value` lines for one object. */
export function details(fields: Array<[string, Cell]>): string {
  const width = Math.max(...fields.map(([key]) => key.length));
  return `${fields.map(([key, value]) => `${key.padEnd(width)}  ${cell(value)}`).join('\n')}\n`;
}

const FRAMES = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

/** A progress line: animated in place on a terminal, one line per change otherwise. */
export class Progress {
  private frame = 0;
  private last = '';
  private readonly started = Date.now();

  constructor(private readonly io: Io) {}

  elapsed(): string {
    return `${((Date.now() - this.started) / 1000).toFixed(1)} s`;
  }

  update(text: string): void {
    if (this.io.interactive) {
      this.io.err(`\r\x1b[2K${FRAMES[this.frame++ % FRAMES.length]} ${text} (${this.elapsed()})`);
    } else if (text !== this.last) {
      this.io.err(`  ${this.elapsed().padStart(7)}  ${text}\n`);
    }
    this.last = text;
  }

  done(text: string): void {
    if (this.io.interactive) this.io.err('\r\x1b[2K');
    this.io.err(`${text} (${this.elapsed()})\n`);
  }
}
