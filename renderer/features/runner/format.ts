/** Byte counts for people; a module of its own so views can share it without pulling the Runner view into their chunk. */

/** A byte count as B/KB/MB. */
export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}
