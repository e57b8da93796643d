// One row per fault, printed as a Markdown table (so it can be pasted as it is), then the evidence.

export interface Row {
  fault: string;
  /** What was injected. */
  injected: string;
  /** What was tried: flows or requests, by kind. */
  what: string;
  tried: number;
  completed: number;
  /** Ended on a 4xx or a 503 before anything was acknowledged. */
  refused: number;
  /** Met a 5xx other than 503, or no answer from a process that was not the target. */
  unclean: number;
  /** Acknowledged, then never finished (or gone). */
  lost: number;
  duplicated: number;
  /** Operations of this fault still IN_PROGRESS with no running workflow to finish them (found at the deadline). */
  stuck: number;
  /** Exits of processes that were not the target; undefined where every process was the target. */
  exits?: number;
  /** Seconds from the end of the injection until everything was ready and every acknowledged flow done. */
  recoverySeconds?: number;
  /** Evidence of what broke the bar (exit codes, error lines, lost and unclean flows). */
  evidence: string[];
  /** A bar of this fault alone that was broken (e.g. `npm start` did not start again). */
  broken?: string;
}

/** The bar: nothing lost, duplicated, stuck or unclean, no unintended exit, recovered before the deadline. */
export function passes(row: Row): boolean {
  return row.lost === 0 && row.duplicated === 0 && row.stuck === 0 && row.unclean === 0 && !row.exits && row.recoverySeconds !== undefined && !row.broken;
}

const HEADERS = ['fault', 'injected', 'tried', 'completed', 'refused (4xx/503)', 'unclean (5xx/no answer)', 'lost', 'duplicated', 'stuck', 'exits', 'recovery', 'bar'];

export function formatTable(rows: Row[]): string {
  const cells = rows.map((r) => [
    r.fault,
    r.injected,
    `${r.tried} ${r.what}`,
    String(r.completed),
    String(r.refused),
    String(r.unclean),
    String(r.lost),
    String(r.duplicated),
    String(r.stuck),
    r.exits === undefined ? '—' : String(r.exits),
    r.recoverySeconds === undefined ? 'not recovered' : `${r.recoverySeconds.toFixed(1)} s`,
    passes(r) ? 'ok' : 'FAIL',
  ]);
  const widths = HEADERS.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (values: string[]) => `| ${values.map((v, i) => v.padEnd(widths[i]!)).join(' | ')} |`;
  return [line(HEADERS), line(widths.map((w) => '-'.repeat(w))), ...cells.map(line)].join('\n');
}

export function formatEvidence(rows: Row[]): string {
  const parts: string[] = [];
  for (const row of rows) {
    if (passes(row) && row.evidence.length === 0) continue;
    parts.push(`${row.fault}${passes(row) ? '' : ' (FAIL)'}:`);
    if (row.broken) parts.push(`  ${row.broken}`);
    for (const line of row.evidence) parts.push(`  ${line}`);
  }
  return parts.join('\n');
}
