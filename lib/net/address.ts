/**
 * Parsing and printing of hosts and ports, shared by the server and client.
 *
 * A target is `HOST`, `HOST:PORT`, `[IPV6]` or `[IPV6]:PORT`; a bare IPv6
 * literal (more than one colon) is a host without a port, as `ncat` and `nc`
 * read it. Every error names the value it rejects.
 *
 * @module
 */

import { UsageError } from "../text/mod.ts";

/** The port linehub uses when none is given, as the original programs did. */
export const DEFAULT_PORT = 8888;

/** A host and port to connect to or listen on. */
export interface HostPort {
  readonly host: string;
  readonly port: number;
}

/**
 * Parses a TCP port number, `0` to `65535`.
 *
 * @example
 * ```ts
 * import { parsePort } from "./address.ts";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(parsePort("8888"), 8888);
 * assert.throws(() => parsePort("88x"), /Invalid port "88x"/);
 * ```
 */
export function parsePort(text: string, what = "port"): number {
  if (!/^[0-9]{1,5}$/.test(text) || Number(text) > 65535) {
    throw new UsageError(`Invalid ${what} "${text}": must be an integer from 0 to 65535`);
  }
  return Number(text);
}

/**
 * Parses a client target: `HOST`, `HOST:PORT`, `[V6]`, `[V6]:PORT` or a bare
 * IPv6 literal. `port`, when given, is a separate PORT argument and conflicts
 * with a port inside the target.
 *
 * @example
 * ```ts
 * import { parseTarget } from "./address.ts";
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(parseTarget("[::1]:9000"), { host: "::1", port: 9000 });
 * assert.deepEqual(parseTarget("::1"), { host: "::1", port: 8888 });
 * assert.deepEqual(parseTarget("example.org", "7"), { host: "example.org", port: 7 });
 * ```
 */
export function parseTarget(target: string, port?: string): HostPort {
  let host = target;
  let portText: string | undefined;
  const bracketed = /^\[([^\]]*)\](?::(.*))?$/.exec(target);
  if (bracketed !== null) {
    host = bracketed[1] ?? "";
    portText = bracketed[2];
    if (!host.includes(":")) {
      throw new UsageError(`Invalid host "${target}": brackets are for IPv6 addresses`);
    }
  } else if (target.startsWith("[") || target.includes("]")) {
    throw new UsageError(`Invalid host "${target}": unbalanced brackets`);
  } else {
    const colons = target.split(":").length - 1;
    if (colons === 1) {
      const at = target.indexOf(":");
      host = target.slice(0, at);
      portText = target.slice(at + 1);
    }
  }
  if (host === "") throw new UsageError(`Invalid host "${target}": empty host`);
  if (/\s/.test(host)) throw new UsageError(`Invalid host "${target}": contains white space`);
  if (portText !== undefined && port !== undefined) {
    throw new UsageError(`Port given twice: "${target}" and "${port}"`);
  }
  const chosen = portText ?? port;
  return { host, port: chosen === undefined ? DEFAULT_PORT : parsePort(chosen) };
}

/** Formats `host:port`, bracketing IPv6 literals. */
export function formatHostPort(host: string, port: number): string {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}

/**
 * Shows an IPv4-mapped IPv6 address (`::ffff:10.0.0.1`, what a dual-stack
 * `::` listener sees for IPv4 peers) as the IPv4 address it is.
 */
export function unmapIPv4(address: string): string {
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(address);
  return mapped?.[1] ?? address;
}
