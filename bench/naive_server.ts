/**
 * Baseline for `deno task bench`: the obvious few-line Deno port of the
 * original C server, kept as the issue describes it. It reads each
 * connection through `TextDecoderStream` and prints every chunk it gets
 * (not every line) with `console.log`, so its output is not line-exact.
 * It is here to be measured against, not used.
 *
 * Usage: deno run --allow-net bench/naive_server.ts PORT
 *
 * @module
 */

const listener = Deno.listen({ hostname: "127.0.0.1", port: Number(Deno.args[0] ?? 8888) });
console.error(`listening on 127.0.0.1:${listener.addr.port}`);
let clients = 0;
for await (const conn of listener) {
  const id = clients++;
  console.error(`Get connect from client ${id} : ${conn.remoteAddr.hostname}`);
  (async () => {
    for await (const text of conn.readable.pipeThrough(new TextDecoderStream())) {
      console.log(`Get Msg From Client ${id}: ${text}`);
    }
  })().catch(() => {});
}
