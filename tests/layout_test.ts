/**
 * The tree keeps the architecture the README's "Layout" describes: each
 * folder of lib/ is a part with a `mod.ts` face, other parts import only
 * that face (never a `_`-private file), and dependencies run one way, from
 * the pure wire format up to the command lines. Read from the import
 * statements of every module under lib/, as text.
 *
 * @module
 */

import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";

const LIB = fileURLToPath(new URL("../lib/", import.meta.url));

/** For each part, the parts it may import at run time. `import type` of the
 * io part's shapes is allowed everywhere: a type makes no dependency at run
 * time, and those shapes are what every part reads and writes through. */
const MAY_IMPORT: Record<string, readonly string[]> = {
  wire: [],
  text: [],
  io: [],
  // The access list parses addresses with wire's one IP text parser.
  net: ["wire", "text", "io"],
  format: ["wire", "text", "io", "net"],
  server: ["wire", "text", "io", "net", "format"],
  client: ["wire", "text", "io", "net", "format"],
  // --http reads the server (its totals, its client list) and samples lines
  // through format's LineSampler; the server knows nothing of it.
  http: ["wire", "text", "io", "net", "format", "server"],
  // A broker's stream is one more place records go: beside the server, not
  // under it (the server sees only io's RecordSink), and in need of no
  // formatter (it reads the JSON records the formatter wrote).
  sink: ["text", "io", "net"],
  cli: ["wire", "text", "io", "net", "format", "server", "client", "http", "sink"],
};

interface Import {
  from: string;
  to: string;
  typeOnly: boolean;
}

/** Every module under lib/, as paths relative to lib/. */
function modules(dir = ""): string[] {
  const found: string[] = [];
  for (const entry of Deno.readDirSync(LIB + dir)) {
    const path = dir + entry.name;
    if (entry.isDirectory) found.push(...modules(path + "/"));
    else if (entry.name.endsWith(".ts")) found.push(path);
  }
  return found.sort();
}

const IMPORT = /^(import|export)\s+(type\s+)?[^"';]*?from\s+"(\.[^"]+)"/gm;

/** The relative imports of one module, outside its doc comments' examples. */
function importsOf(path: string): Import[] {
  const text = Deno.readTextFileSync(LIB + path);
  const dir = path.includes("/") ? path.slice(0, path.lastIndexOf("/") + 1) : "";
  return [...text.matchAll(IMPORT)].map((match) => ({
    from: path,
    to: new URL(match[3] as string, `file:///${dir}`).pathname.slice(1),
    typeOnly: match[2] !== undefined,
  }));
}

const partOf = (path: string): string => path.split("/")[0] as string;
const all = modules();
/** Imports of other modules of lib/ (`deno.json`, read for the version, is
 * outside it). */
const imports = all.flatMap(importsOf).filter(({ to }) => all.includes(to));

Deno.test("every module of lib/ is in a part's folder, and every part has a mod.ts face", () => {
  const parts = new Set(all.map(partOf));
  assert.deepEqual([...parts].sort(), Object.keys(MAY_IMPORT).sort());
  for (const part of parts) assert.ok(all.includes(`${part}/mod.ts`), `${part}/mod.ts`);
  assert.deepEqual(all.filter((path) => !path.includes("/")), []);
});

Deno.test("a part imports another only through its mod.ts face, never a _private file", () => {
  const wrong = imports.filter(({ from, to }) =>
    partOf(from) !== partOf(to) && !/^[a-z]+\/mod\.ts$/.test(to)
  );
  assert.deepEqual(wrong.map(({ from, to }) => `${from} -> ${to}`), []);
});

Deno.test("dependencies between parts run one way: wire and text depend on nothing, only cli on server and client", () => {
  const wrong = imports.filter(({ from, to, typeOnly }) => {
    const [a, b] = [partOf(from), partOf(to)];
    if (a === b) return false;
    if (typeOnly && b === "io") return false;
    return !(MAY_IMPORT[a] ?? []).includes(b);
  });
  assert.deepEqual(wrong.map(({ from, to }) => `${from} -> ${to}`), []);
});

Deno.test("the import checks see the imports (they would catch a wrong one)", () => {
  // The server's face reaches the wire format, and the CLI reaches the server.
  assert.ok(imports.some(({ from, to }) => partOf(from) === "server" && to === "wire/mod.ts"));
  assert.ok(imports.some(({ from, to }) => partOf(from) === "cli" && to === "server/mod.ts"));
});
