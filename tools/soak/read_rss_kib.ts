/**
 * The resident set size of a process, read from `/proc`: the soak bounds the
 * server's RSS during the load and shows it around the churn. Linux only,
 * and Deno lets only `--allow-all` read another process's status.
 *
 * @module
 */

/** A process's resident set size in KiB, from `/proc/PID/status` (Linux;
 * Deno lets only `--allow-all` read it). */
export function readRssKiB(pid: number | "self"): number {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  const kib = /VmRSS:\s+(\d+)/.exec(status)?.[1];
  if (kib === undefined) throw new Error(`No VmRSS in /proc/${pid}/status`);
  return Number(kib);
}
