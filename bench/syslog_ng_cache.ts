/**
 * Unpacks syslog-ng for `deno task bench` where it is not installed,
 * without installing it (no service, no system config): `apt-get download`
 * of Debian's `syslog-ng-core` and the libraries it needs that a machine
 * without it lacks, `dpkg -x` into a cache directory, then `ldd` on the
 * binary and on the modules the bench uses, to say what is still missing.
 * bench/syslog_configs.ts finds it there.
 *
 * Usage: deno run --allow-all bench/syslog_ng_cache.ts [CACHE_DIR]
 * (default /work/cache/syslog-ng)
 *
 * @module
 */

import { SYSLOG_NG_CACHE, syslogNgRoot } from "./syslog_configs.ts";

/** syslog-ng-core, and what its binary and its afsocket module (network())
 * link to that a Debian 12 machine without syslog-ng has not got. */
const PACKAGES = ["syslog-ng-core", "libivykis0", "libpcre3", "libnet1"];

async function run(cmd: string, args: string[], cwd?: string): Promise<string> {
  const { code, stdout, stderr } = await new Deno.Command(cmd, {
    args,
    ...(cwd === undefined ? {} : { cwd }),
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(stdout);
  if (code !== 0) {
    throw new Error(`${cmd} ${args.join(" ")} failed: ${new TextDecoder().decode(stderr)}`);
  }
  return text;
}

async function main(args: string[]): Promise<number> {
  const cache = args[0] ?? SYSLOG_NG_CACHE;
  const debs = `${cache}/debs`;
  await Deno.mkdir(debs, { recursive: true });
  await run("apt-get", ["download", ...PACKAGES], debs);
  for await (const entry of Deno.readDir(debs)) {
    if (entry.name.endsWith(".deb")) {
      await run("dpkg", ["-x", `${debs}/${entry.name}`, `${cache}/root`]);
    }
  }
  const found = syslogNgRoot(cache);
  if (found === null) {
    console.error(`No syslog-ng binary under ${cache}/root`);
    return 1;
  }
  const missing = new Set<string>();
  for (const file of [found.binary, `${found.modules}/libafsocket.so`]) {
    const { stdout } = await new Deno.Command("ldd", {
      args: [file],
      env: { LD_LIBRARY_PATH: found.libraryPath },
      stdout: "piped",
    }).output();
    for (const line of new TextDecoder().decode(stdout).split("\n")) {
      if (line.includes("not found")) missing.add(line.trim().split(" ")[0] ?? line);
    }
  }
  if (missing.size > 0) {
    console.error(`syslog-ng unpacked in ${cache}, but still missing: ${[...missing].join(", ")}`);
    return 1;
  }
  console.log(`syslog-ng ready in ${cache}/root`);
  return 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
