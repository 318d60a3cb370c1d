// How times, durations and rates read everywhere in the UI.

export function duration(ns: number): string {
  const abs = Math.abs(ns);
  if (abs < 1_000) return `${ns} ns`;
  if (abs < 1_000_000) return `${(ns / 1_000).toFixed(abs < 10_000 ? 1 : 0)} µs`;
  if (abs < 1_000_000_000) return `${(ns / 1_000_000).toFixed(abs < 10_000_000 ? 2 : abs < 100_000_000 ? 1 : 0)} ms`;
  if (abs < 60_000_000_000) return `${(ns / 1_000_000_000).toFixed(2)} s`;
  const s = Math.round(ns / 1_000_000_000);
  return s < 3600 ? `${Math.floor(s / 60)}m ${s % 60}s` : `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
}

export function durationMs(ms: number): string {
  return duration(ms * 1_000_000);
}

/** "12s ago", "5m ago", "3h ago", or the date for older times. */
export function ago(unixMs: number, now = Date.now()): string {
  const s = Math.max(0, Math.round((now - unixMs) / 1000));
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h ago`;
  return new Date(unixMs).toLocaleString();
}

export function clock(unixMs: number): string {
  return new Date(unixMs).toLocaleTimeString(undefined, { hour12: false });
}

export function percent(fraction: number): string {
  return `${(fraction * 100).toFixed(fraction < 0.1 && fraction > 0 ? 1 : 0)}%`;
}
