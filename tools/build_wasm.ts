/**
 * `deno task wasm`: assembles lib/line_labeller.wat into
 * lib/line_labeller_wasm.ts, the module the server loads, which holds the
 * WebAssembly bytes as base64 so that neither `deno run` nor a compiled
 * binary has to read a file for them. `--check` only compares, and exits 1
 * when the committed module is not what the .wat assembles to.
 *
 * The assembler is WABT's `wat2wasm`, from npm (`wabt`); it is needed only
 * here and in the test that runs this check, never by the server.
 *
 * @module
 */

import { parseArgs } from "node:util";
import wabtModule from "wabt";

const WAT = new URL("../lib/line_labeller.wat", import.meta.url);
const MODULE = new URL("../lib/line_labeller_wasm.ts", import.meta.url);

/** Characters of base64 per source line. */
const LINE = 76;

/** Assembles WebAssembly text, with the SIMD feature, into binary. */
export async function assemble(name: string, wat: string): Promise<Uint8Array> {
  const wabt = await wabtModule();
  const module = wabt.parseWat(name, wat, { simd: true });
  try {
    module.validate();
    return module.toBinary({}).buffer;
  } finally {
    module.destroy();
  }
}

/** The TypeScript module that carries `wasm`. */
export function moduleSource(wasm: Uint8Array): string {
  const base64 = btoa(Array.from(wasm, (byte) => String.fromCharCode(byte)).join(""));
  const lines: string[] = [];
  for (let i = 0; i < base64.length; i += LINE) lines.push(`  "${base64.slice(i, i + LINE)}",`);
  return [
    "/**",
    " * lib/line_labeller.wat, assembled: made by `deno task wasm` (tools/build_wasm.ts);",
    " * do not edit.",
    " *",
    " * @module",
    " */",
    "",
    "/** The WebAssembly module of lib/line_labeller.ts, base64-encoded. */",
    "export const LINE_LABELLER_WASM: string = [",
    ...lines,
    '].join("");',
    "",
  ].join("\n");
}

/** What lib/line_labeller_wasm.ts should hold, from the .wat as it is now. */
export async function expectedModule(): Promise<string> {
  return moduleSource(await assemble("line_labeller.wat", await Deno.readTextFile(WAT)));
}

async function main(args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { check: { type: "boolean", default: false } } });
  const expected = await expectedModule();
  if (values.check) {
    const actual = await Deno.readTextFile(MODULE).catch(() => "");
    if (actual === expected) return 0;
    console.error("build_wasm: lib/line_labeller_wasm.ts is out of date: run `deno task wasm`");
    return 1;
  }
  await Deno.writeTextFile(MODULE, expected);
  console.error(`build_wasm: wrote ${MODULE.pathname}`);
  return 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
