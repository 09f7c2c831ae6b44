import assert from "node:assert/strict";
import { expectedModule, WASM_SOURCES } from "../../tools/build_wasm.ts";

for (const source of WASM_SOURCES) {
  Deno.test(`the committed ${source.module} is ${source.wat} assembled`, async () => {
    const committed = await Deno.readTextFile(new URL(`../../${source.module}`, import.meta.url));
    assert.equal(committed, await expectedModule(source), "run `deno task wasm`");
  });
}
