/**
 * Reading Server-Sent Events in tests: the events of a byte stream, one at a
 * time, with their name and data (comments skipped).
 *
 * @module
 */

/** One event: its name (`message` if none) and its data. */
export interface SseEvent {
  readonly event: string;
  readonly data: string;
}

/** Reads events from `stream` as they come. */
export class SseReader {
  readonly #reader: ReadableStreamDefaultReader<Uint8Array>;
  readonly #decoder = new TextDecoder();
  #buffer = "";

  constructor(stream: ReadableStream<Uint8Array>) {
    this.#reader = stream.getReader();
  }

  /** The next event, or null at the end of the stream. */
  async next(): Promise<SseEvent | null> {
    while (true) {
      const end = this.#buffer.indexOf("\n\n");
      if (end >= 0) {
        const block = this.#buffer.slice(0, end);
        this.#buffer = this.#buffer.slice(end + 2);
        let event = "message";
        const data: string[] = [];
        for (const line of block.split("\n")) {
          if (line.startsWith("event: ")) event = line.slice(7);
          else if (line.startsWith("data: ")) data.push(line.slice(6));
        }
        if (data.length > 0) return { event, data: data.join("\n") };
        continue;
      }
      const { value, done } = await this.#reader.read();
      if (done) return null;
      this.#buffer += this.#decoder.decode(value, { stream: true });
    }
  }

  /** The next event named `name`, skipping others. */
  async nextOf(name: string): Promise<SseEvent> {
    while (true) {
      const event = await this.next();
      if (event === null) throw new Error(`The stream ended before a "${name}" event`);
      if (event.event === name) return event;
    }
  }

  async cancel(): Promise<void> {
    await this.#reader.cancel();
  }
}
