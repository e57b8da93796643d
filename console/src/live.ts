// Reading the API while a view is shown, and how times read to a person.
import { useEffect, useState } from 'preact/hooks';
import { Problem } from './api.js';

/** How often a view reads again while it is shown. */
export const REFRESH_MS = 5_000;

let refused: (message: string) => void = () => undefined;
/** What happens when the API refuses the token (main.tsx signs out). */
export const onRefused = (handler: (message: string) => void) => (refused = handler);

/** Reads `load` now and every {@link REFRESH_MS} while mounted; a 401 signs out. */
export function useLive<T>(load: () => Promise<T>, deps: unknown[] = []): { data?: T; error?: string } {
  const [state, setState] = useState<{ data?: T; error?: string }>({});
  useEffect(() => {
    let alive = true;
    const read = () =>
      load().then(
        (data) => alive && setState({ data }),
        (error: unknown) => {
          if (error instanceof Problem && error.status === 401) return refused('The token was refused: sign in again.');
          if (alive) setState((s) => ({ ...s, error: error instanceof Error ? error.message : String(error) }));
        },
      );
    void read();
    const timer = setInterval(() => void read(), REFRESH_MS);
    return () => {
      alive = false;
      clearInterval(timer);
    };
  }, deps);
  return state;
}

/** The current time, ticking every second while shown. */
export function useNow(): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(timer);
  }, []);
  return now;
}

/** "12 s", "4 min", "3 h", "89 d": a duration as a person reads it. */
export function duration(ms: number): string {
  const s = Math.round(Math.abs(ms) / 1000);
  if (s < 90) return `${s} s`;
  if (s < 90 * 60) return `${Math.round(s / 60)} min`;
  if (s < 36 * 3600) return `${Math.round(s / 3600)} h`;
  return `${Math.round(s / 86400)} d`;
}

/** "4 min ago" or "in 89 d", relative to now. */
export const relative = (iso: string, now = Date.now()) => {
  const ms = Date.parse(iso) - now;
  return ms > 0 ? `in ${duration(ms)}` : `${duration(ms)} ago`;
};
