/**
 * `deno task wasm`: assembles each WebAssembly text file of the project into
 * the TypeScript module that loads it, which holds the bytes as base64 so
 * that neither `deno run` nor a compiled binary has to read a file for them:
 * lib/format/_line_labeller.wat (the server's fast path) and bench/byte_count.wat
 * (the bench's output reader). `--check` only compares, and exits 1 when a
 * committed module is not what its .wat assembles to.
 *
 * The assembler is WABT's `wat2wasm`, from npm (`wabt`); it is needed only
 * here and in the test that runs this check, never by the programs.
 *
 * @module
 */

import { parseArgs } from "node:util";
import wabtModule from "wabt";

/** A .wat file and the module generated from it. */
export interface WasmSource {
  /** The WebAssembly text, relative to the project's root. */
  readonly wat: string;
  /** The generated TypeScript module, relative to the project's root. */
  readonly module: string;
  /** The name of the base64 string the module exports. */
  readonly constant: string;
}

/** Every .wat file of the project. */
export const WASM_SOURCES: readonly WasmSource[] = [
  {
    wat: "lib/format/_line_labeller.wat",
    module: "lib/format/_line_labeller_wasm.ts",
    constant: "LINE_LABELLER_WASM",
  },
  { wat: "bench/byte_count.wat", module: "bench/byte_count_wasm.ts", constant: "BYTE_COUNT_WASM" },
];

const ROOT = new URL("../", import.meta.url);

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

/** The TypeScript module that carries `wasm`, assembled from `source`. */
export function moduleSource(source: WasmSource, wasm: Uint8Array): string {
  const base64 = btoa(Array.from(wasm, (byte) => String.fromCharCode(byte)).join(""));
  const lines: string[] = [];
  for (let i = 0; i < base64.length; i += LINE) lines.push(`  "${base64.slice(i, i + LINE)}",`);
  return [
    "/**",
    ` * ${source.wat}, assembled: made by \`deno task wasm\` (tools/build_wasm.ts);`,
    " * do not edit.",
    " *",
    " * @module",
    " */",
    "",
    `/** The WebAssembly module of ${source.wat}, base64-encoded. */`,
    `export const ${source.constant}: string = [`,
    ...lines,
    '].join("");',
    "",
  ].join("\n");
}

/** What `source.module` should hold, from its .wat as it is now. */
export async function expectedModule(source: WasmSource): Promise<string> {
  const wat = await Deno.readTextFile(new URL(source.wat, ROOT));
  return moduleSource(source, await assemble(source.wat, wat));
}

async function main(args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { check: { type: "boolean", default: false } } });
  let status = 0;
  for (const source of WASM_SOURCES) {
    const expected = await expectedModule(source);
    const target = new URL(source.module, ROOT);
    if (values.check) {
      const actual = await Deno.readTextFile(target).catch(() => "");
      if (actual === expected) continue;
      console.error(`build_wasm: ${source.module} is out of date: run \`deno task wasm\``);
      status = 1;
    } else {
      await Deno.writeTextFile(target, expected);
      console.error(`build_wasm: wrote ${source.module}`);
    }
  }
  return status;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
