/**
 * PROXY protocol headers as a load balancer sends them, for the tests of a
 * server started with `--proxy-protocol`: a v1 line, a v2 PROXY header for
 * TCP over IPv4 or IPv6, and the v2 LOCAL header of a health check. Built
 * from the specification's layout, independently of the parser under test.
 *
 * @module
 */

const encoder = new TextEncoder();

/** The 12-byte v2 signature. */
const V2_SIGNATURE = [0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a];

/** A v1 header: `PROXY TCP4` (or `TCP6` for an IPv6 `source`) and CRLF. */
export function proxyV1(
  source: string,
  sourcePort: number,
  destination = source.includes(":") ? "::1" : "127.0.0.1",
  destinationPort = 8888,
): Uint8Array {
  const family = source.includes(":") ? "TCP6" : "TCP4";
  return encoder.encode(
    `PROXY ${family} ${source} ${destination} ${sourcePort} ${destinationPort}\r\n`,
  );
}

/** A v2 PROXY header for TCP from `source` (IPv4 or IPv6) to `destination`. */
export function proxyV2(
  source: string,
  sourcePort: number,
  destination = source.includes(":") ? "::1" : "127.0.0.1",
  destinationPort = 8888,
): Uint8Array {
  const from = ipBytes(source);
  const to = ipBytes(destination);
  if (from.length !== to.length) throw new TypeError("Addresses of two families");
  const ports = [sourcePort >> 8, sourcePort & 0xff, destinationPort >> 8, destinationPort & 0xff];
  const block = [...from, ...to, ...ports];
  // Version 2, command PROXY; TCP over IPv4 (0x11) or IPv6 (0x21).
  const family = from.length === 4 ? 0x11 : 0x21;
  return Uint8Array.from([...V2_SIGNATURE, 0x21, family, 0, block.length, ...block]);
}

/** The v2 LOCAL header HAProxy's health checks send (family AF_UNSPEC, no
 * address block), as captured from HAProxy 2.6. */
export const PROXY_V2_LOCAL: Uint8Array = Uint8Array.from([...V2_SIGNATURE, 0x20, 0x00, 0, 0]);

/**
 * An IPv4 or IPv6 address as its 4 or 16 bytes. Written here, plainly and
 * apart from lib's parser (`lib/wire/ip_text.ts`), which the server reads
 * these headers with: a fault there must not be built into the headers too.
 * Takes what the tests write: dotted quads, IPv6 with at most one `::`, and
 * a dotted-quad tail.
 */
function ipBytes(text: string): number[] {
  const fail = (): never => {
    throw new TypeError(`Not an IP address: ${text}`);
  };
  const quad = (part: string): number[] => {
    const octets = part.split(".").map((octet) => /^\d{1,3}$/.test(octet) ? Number(octet) : 256);
    return octets.length === 4 && octets.every((octet) => octet <= 255) ? octets : fail();
  };
  if (!text.includes(":")) return quad(text);
  const lastColon = text.lastIndexOf(":");
  const tail = text.slice(lastColon + 1).includes(".") ? quad(text.slice(lastColon + 1)) : null;
  const hexPart = tail === null ? text : `${text.slice(0, lastColon + 1)}0:0`;
  const groupsOf = (part: string): number[] =>
    part === ""
      ? []
      : part.split(":").map((group) =>
        /^[0-9a-f]{1,4}$/i.test(group) ? parseInt(group, 16) : fail()
      );
  const halves = hexPart.split("::");
  if (halves.length > 2) fail();
  const left = groupsOf(halves[0] ?? "");
  const right = halves.length === 2 ? groupsOf(halves[1] ?? "") : [];
  const zeros = halves.length === 2 ? 8 - left.length - right.length : 0;
  if (zeros < 0 || left.length + zeros + right.length !== 8) fail();
  const groups = [...left, ...new Array<number>(zeros).fill(0), ...right];
  const bytes = groups.flatMap((group) => [group >> 8, group & 0xff]);
  if (tail !== null) bytes.splice(12, 4, ...tail);
  return bytes;
}
