import assert from "node:assert/strict";
import { abortable } from "../../lib/io/abortable.ts";

/** A signal that counts the abort listeners currently on it. */
function countingSignal(): { controller: AbortController; listening: () => number } {
  const controller = new AbortController();
  const signal = controller.signal;
  let listening = 0;
  const add = signal.addEventListener.bind(signal);
  const remove = signal.removeEventListener.bind(signal);
  signal.addEventListener = ((...args: Parameters<typeof add>) => {
    listening++;
    add(...args);
  }) as typeof add;
  signal.removeEventListener = ((...args: Parameters<typeof remove>) => {
    listening--;
    remove(...args);
  }) as typeof remove;
  return { controller, listening: () => listening };
}

Deno.test("abortable leaves nothing on a long-lived signal once each wait is over", async () => {
  const { controller, listening: count } = countingSignal();
  for (let i = 0; i < 1000; i++) {
    assert.equal(await abortable(Promise.resolve(i), controller.signal), i);
  }
  for (let i = 0; i < 1000; i++) {
    await assert.rejects(abortable(Promise.reject(new Error(`no ${i}`)), controller.signal), {
      message: `no ${i}`,
    });
  }
  assert.equal(count(), 0);
});

Deno.test("abortable rejects with the signal's reason when it aborts first", async () => {
  const controller = new AbortController();
  const waiting = abortable(new Promise<never>(() => {}), controller.signal);
  controller.abort(new Error("drain deadline"));
  await assert.rejects(waiting, { message: "drain deadline" });
  // Already aborted: rejects at once, without listening.
  await assert.rejects(abortable(Promise.resolve(1), controller.signal), {
    message: "drain deadline",
  });
});

Deno.test("abortable settles like the promise when the promise comes first", async () => {
  const controller = new AbortController();
  const value = abortable(
    new Promise<string>((resolve) => setTimeout(() => resolve("done"), 5)),
    controller.signal,
  );
  assert.equal(await value, "done");
  controller.abort(); // too late to matter
});
