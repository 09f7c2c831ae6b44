/**
 * A server's node name (`--node`, by default the host name): in every JSON
 * record (`"node"`) and, when asked, at the head of a `text` label
 * (`[web-3/client 12]`). Client numbers start at 0 in every server and every
 * run, so two servers behind one balancer both have a client 12; the node
 * name says whose it is, and with the run's id and the client's number
 * names one connection among every server and restart.
 *
 * A name is 1 to 64 ASCII letters, digits and `. _ -`: what a host name is
 * made of (with the `_` of some Windows names), one word in a label, and
 * nothing any output must escape. No `/` or space, which mark where a
 * label's node ends and where its words part.
 *
 * @module
 */

/** Most characters in a node name: the longest host name Linux allows. */
export const MAX_NODE_NAME_LENGTH = 64;

const NODE_NAME_PATTERN = /^[A-Za-z0-9._-]+$/;

/** A run of what a node name cannot hold, replaced by one `-` in a host name. */
const NOT_IN_NODE_NAME = /[^A-Za-z0-9._-]+/g;

/**
 * Why `name` cannot be a node name, or null if it can.
 *
 * @example
 * ```ts
 * import { nodeNameProblem } from "./node_name.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(nodeNameProblem("web-3.eu_1"), null);
 * assert.equal(nodeNameProblem("web/3"), "must be 1 to 64 ASCII letters, digits or . _ -");
 * ```
 */
export function nodeNameProblem(name: string): string | null {
  if (name.length > MAX_NODE_NAME_LENGTH || !NODE_NAME_PATTERN.test(name)) {
    return `must be 1 to ${MAX_NODE_NAME_LENGTH} ASCII letters, digits or . _ -`;
  }
  return null;
}

/** `name` if it is a node name; else a RangeError naming it, for options
 * given in code rather than on a command line. */
export function checkNodeName(name: string): string {
  const problem = nodeNameProblem(name);
  if (problem === null) return name;
  throw new RangeError(`Invalid node ${JSON.stringify(name)}: ${problem}`);
}

/**
 * The node name made from a host name: the host name itself when it is one
 * (as it almost always is); else each run of other characters becomes one
 * `-` (`Jo's Mac` becomes `Jo-s-Mac`), and a name still longer than 64
 * characters is cut to its first label (the short host name), then to 64.
 * Null when nothing is left to name the node by (an empty host name).
 *
 * @example
 * ```ts
 * import { nodeNameFromHost } from "./node_name.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(nodeNameFromHost("web-3.example.net"), "web-3.example.net");
 * assert.equal(nodeNameFromHost("Jo's Mac"), "Jo-s-Mac");
 * assert.equal(nodeNameFromHost(""), null);
 * ```
 */
export function nodeNameFromHost(host: string): string | null {
  let name = host.replace(NOT_IN_NODE_NAME, "-");
  if (name.length > MAX_NODE_NAME_LENGTH) {
    const first = name.split(".")[0] ?? "";
    name = (first === "" ? name : first).slice(0, MAX_NODE_NAME_LENGTH);
  }
  return nodeNameProblem(name) === null ? name : null;
}
