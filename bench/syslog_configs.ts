/**
 * How `deno task bench` runs rsyslog and syslog-ng: each with a config of
 * its own in a temporary directory (nothing of the system's is read or
 * touched), one TCP input on 127.0.0.1, and every message written to stdout
 * (a pipe) as `ADDRESS MESSAGE`, what linehub's `--label address` writes.
 *
 * What makes the comparison fair, setting by setting:
 *
 * - Neither parses the line as a syslog message, as linehub does not:
 *   rsyslog writes `%rawmsg%`, syslog-ng reads with `flags(no-parse)`.
 * - Both may hold 100,000 messages in memory (linehub holds 1 MiB of
 *   output) and stop reading their sockets when that is full, as linehub
 *   does at its mark: rsyslog's main queue is a FixedArray of 100,000 whose
 *   full queue blocks the inputs; syslog-ng runs with `flags(flow-control)`
 *   and a window (`log_iw_size`) of 100,000 over all connections.
 * - Both write in large batches, as linehub writes up to 1 MiB at a time:
 *   rsyslog dequeues 1,024 messages per batch into a 64 KiB file buffer;
 *   syslog-ng takes up to 1,000 lines per flush (`flush_lines`).
 * - Both queue up to 4,096 connections not yet accepted, as socat is told
 *   to and as linehub does by default: imptcp's `socketBacklog` defaults to
 *   5 in rsyslog 8.2302 (Debian 12), which with 50 clients connecting at
 *   once lost whole clients' data for good (seen on 2026-11-28:
 *   26 to 42 of 50 clients' lines came out, and nothing more in 10 s).
 *   syslog-ng's network() listens with a backlog of 255 by default
 *   (`listen_backlog`), which is kept: it is above the 50 clients.
 * - Neither looks names up (`use_dns(no)`; rsyslog's `%fromhost-ip%` is the
 *   address, no lookup). syslog-ng's default of 10 connections would
 *   measure a setting, so it takes up to 100,000, as ncat is told to;
 *   imptcp has no such limit.
 * - syslog-ng runs without dropping capabilities it was never given
 *   (`--no-caps`) and in the foreground, as rsyslog does with `-n`.
 *
 * Where syslog-ng is not installed, `syslogNgRoot` finds the packages
 * unpacked by bench/syslog_ng_cache.ts (see there).
 *
 * @module
 */

/** rsyslog's config: imptcp on `port`, `%fromhost-ip% %rawmsg%` to stdout. */
export function rsyslogConfig(port: number, workDirectory: string): string {
  return `global(workDirectory="${workDirectory}" maxMessageSize="64k")
main_queue(queue.type="FixedArray" queue.size="100000" queue.dequeueBatchSize="1024")
module(load="imptcp")
input(type="imptcp" address="127.0.0.1" port="${port}" socketBacklog="4096")
template(name="hubline" type="string" string="%fromhost-ip% %rawmsg%\\n")
action(type="omfile" file="/dev/stdout" template="hubline" ioBufferSize="64k")
`;
}

/** The argv that runs rsyslogd in the foreground on `config`. */
export function rsyslogCommand(rsyslogd: string, config: string, pidFile: string): string[] {
  return [rsyslogd, "-n", "-f", config, "-i", pidFile];
}

/** syslog-ng's config: network() on `port`, `${SOURCEIP} ${MSG}` to stdout. */
export function syslogNgConfig(port: number): string {
  return `@version: 3.38
options { use_dns(no); use_fqdn(no); dns_cache(no); keep_hostname(yes); stats_freq(0);
  log_fifo_size(100000); flush_lines(1000); };
source s_net { network(ip("127.0.0.1") port(${port}) transport("tcp") flags(no-parse)
  max_connections(100000) log_iw_size(100000)); };
destination d_out { pipe("/dev/stdout" template("\${SOURCEIP} \${MSG}\\n")); };
log { source(s_net); destination(d_out); flags(flow-control); };
`;
}

/** Where a syslog-ng installation is: its binary, its modules, and the
 * library path it needs (empty for a system install). */
export interface SyslogNg {
  readonly binary: string;
  readonly modules: string | null;
  readonly libraryPath: string;
}

/** The argv that runs syslog-ng in the foreground on `config`, with its
 * state files in `dir`. */
export function syslogNgCommand(syslogNg: SyslogNg, config: string, dir: string): string[] {
  return [
    syslogNg.binary,
    ...["-F", "--no-caps", "-f", config],
    ...(syslogNg.modules === null ? [] : [`--module-path=${syslogNg.modules}`]),
    ...["-R", `${dir}/persist`, "-p", `${dir}/pid`, "-c", `${dir}/ctl`],
  ];
}

/** The default cache that bench/syslog_ng_cache.ts unpacks into. */
export const SYSLOG_NG_CACHE = "/work/cache/syslog-ng";

/** The unpacked syslog-ng under `cache`, or null if there is none. */
export function syslogNgRoot(cache: string): SyslogNg | null {
  const root = `${cache}/root`;
  const binary = `${root}/usr/sbin/syslog-ng`;
  try {
    Deno.statSync(binary);
  } catch {
    return null;
  }
  let modules = `${root}/usr/lib/syslog-ng`;
  for (const entry of Deno.readDirSync(modules)) {
    if (entry.isDirectory && /^\d+\.\d+$/.test(entry.name)) modules += `/${entry.name}`;
  }
  const libraryPath = [
    `${root}/usr/lib/x86_64-linux-gnu`,
    `${root}/lib/x86_64-linux-gnu`,
    `${root}/usr/lib/syslog-ng`,
  ].join(":");
  return { binary, modules, libraryPath };
}
