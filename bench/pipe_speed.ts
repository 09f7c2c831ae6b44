/**
 * How fast one pipe carries bytes from a writer to a Deno reader like the
 * bench's (1 MiB reads into one reused buffer): the ceiling of any server
 * whose output is one pipe to one reader, however many cores label for it.
 * `dd` writes 4,000 MiB of zeros in 1 MiB writes; the rate is printed in
 * MB/s. README's Workers section uses it to say what more cores can give.
 *
 * Usage: deno run --allow-run bench/pipe_speed.ts [ROUNDS]
 *
 * @module
 */

const MIB = 1 << 20;
const rounds = Number(Deno.args[0] ?? 3);
for (let round = 0; round < rounds; round++) {
  const dd = new Deno.Command("dd", {
    args: ["if=/dev/zero", "bs=1M", "count=4000"],
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const reader = dd.stdout.getReader({ mode: "byob" });
  let buffer = new Uint8Array(MIB);
  let bytes = 0;
  const start = performance.now();
  while (true) {
    const { value, done } = await reader.read(buffer);
    if (done || value === undefined) break;
    bytes += value.length;
    buffer = new Uint8Array(value.buffer);
  }
  await dd.status;
  const seconds = (performance.now() - start) / 1000;
  console.log(`round ${round + 1}: ${(bytes / 1e6 / seconds).toFixed(0)} MB/s`);
}
