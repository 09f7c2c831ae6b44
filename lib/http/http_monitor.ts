/**
 * `linehub-server --http ADDR`: {@linkcode HttpMonitor} serves, with
 * `Deno.serve`, what an operator and a load balancer ask of a running
 * server:
 *
 * | path       | what                                                     |
 * | ---------- | -------------------------------------------------------- |
 * | `/`        | the live page (HTML; its script and style beside it)     |
 * | `/events`  | the page's Server-Sent Events ({@linkcode LiveFeed})     |
 * | `/metrics` | Prometheus text ({@linkcode metricsText})                |
 * | `/healthz` | 200 while the node should get clients, else 503          |
 *
 * With a token, every path but `/healthz` needs it: as a bearer token
 * (`Authorization: Bearer TOKEN`), or as the cookie that `/?token=TOKEN`
 * sets for a browser, whose `EventSource` cannot send a header. It runs on
 * the server's own event loop, so each answer is small and made at once:
 * the state of the table is made once a second for every page, lines are a
 * sample, and a page that does not read is dropped.
 *
 * @module
 */

import type { ChunkSink } from "../io/mod.ts";
import { formatHostPort } from "../net/mod.ts";
import { type ClientStats, ListenError, type ServerStats } from "../server/mod.ts";
import { describeError } from "../text/mod.ts";
import { HealthCheck, type HealthInputs } from "./health_check.ts";
import { LiveFeed } from "./live_feed.ts";
import { liveStateJson } from "./_live_state.ts";
import { LIVE_PAGE_HTML, LIVE_PAGE_SCRIPT, LIVE_PAGE_STYLE } from "./_live_page.ts";
import { METRICS_CONTENT_TYPE, type MetricsSnapshot, metricsText } from "./metrics_text.ts";

/** Where `--http` listens when given only a port: this machine alone. */
export const DEFAULT_HTTP_HOST = "127.0.0.1";

/** Longest wait at close for requests still being answered. */
const CLOSE_WAIT_MS = 1000;

/** The cookie that carries the token for a browser. */
const TOKEN_COOKIE = "linehub_token";

/** What the monitor reads from the server, each time it is asked. */
export interface MonitorSource {
  /** Everything `/metrics` shows. */
  metrics(): MetricsSnapshot;
  /** What `/healthz` judges. */
  health(): HealthInputs;
  /** The totals. */
  stats(): ServerStats;
  /** The clients connected now. */
  clients(): ClientStats[] | Promise<ClientStats[]>;
  readonly node: string;
  readonly version: string;
}

/** Options for {@linkcode HttpMonitor}. */
export interface HttpMonitorOptions {
  /** Address to listen on.
   * @default {DEFAULT_HTTP_HOST: "127.0.0.1"} */
  hostname?: string;
  /** TCP port; 0 picks a free one (which `listen` returns). */
  port: number;
  /** Required for every path but `/healthz`, when given.
   * @default {none: no token needed} */
  token?: string;
  /** The feed the page follows. Without one the page shows the clients
   * and totals, and says that it cannot follow lines (`--workers`).
   * @default {a feed with no lines} */
  feed?: LiveFeed;
  /** Where a failure inside a request is reported, in one line.
   * @default {none} */
  log?: ChunkSink;
}

const SECURITY_HEADERS = {
  "cache-control": "no-store",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "x-frame-options": "DENY",
} as const;

/** The page's policy: its own script and style only, and no framing. */
const PAGE_POLICY = "default-src 'none'; script-src 'self'; style-src 'self'; " +
  "connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; " +
  "frame-ancestors 'none'";

const encoder = new TextEncoder();

/** Compares two strings in time that depends only on their lengths. */
function sameToken(given: string, token: string): boolean {
  const a = encoder.encode(given);
  const b = encoder.encode(token);
  let difference = a.length ^ b.length;
  for (let i = 0; i < b.length; i++) difference |= (a[i] ?? 0) ^ (b[i] ?? 0);
  return difference === 0;
}

/** The value of cookie `name` in a Cookie header, if any. */
function cookie(header: string | null, name: string): string | null {
  for (const part of (header ?? "").split(";")) {
    const at = part.indexOf("=");
    if (at > 0 && part.slice(0, at).trim() === name) return part.slice(at + 1).trim();
  }
  return null;
}

function text(body: string, status = 200, headers: Record<string, string> = {}): Response {
  return new Response(body, {
    status,
    headers: { "content-type": "text/plain; charset=utf-8", ...SECURITY_HEADERS, ...headers },
  });
}

/** The HTTP side of the server; see the module. */
export class HttpMonitor {
  readonly #source: MonitorSource;
  readonly #hostname: string;
  readonly #port: number;
  readonly #token: string | null;
  readonly #feed: LiveFeed;
  readonly #tail: boolean;
  readonly #log: ChunkSink | null;
  readonly #health = new HealthCheck();
  #server: Deno.HttpServer<Deno.NetAddr> | null = null;
  #addr: Deno.NetAddr | null = null;

  constructor(source: MonitorSource, options: HttpMonitorOptions) {
    this.#source = source;
    this.#hostname = options.hostname ?? DEFAULT_HTTP_HOST;
    this.#port = options.port;
    this.#token = options.token ?? null;
    this.#tail = options.feed !== undefined;
    this.#log = options.log ?? null;
    this.#feed = options.feed ?? new LiveFeed();
    this.#feed.setState(() => this.#stateJson());
  }

  /** The bound address; valid after `listen`. */
  get addr(): Deno.NetAddr {
    if (this.#addr === null) throw new Error("Cannot read the address: not listening");
    return this.#addr;
  }

  /** Binds and serves; throws {@linkcode ListenError} naming the address. */
  listen(): Deno.NetAddr {
    try {
      this.#server = Deno.serve({
        hostname: this.#hostname,
        port: this.#port,
        // Deno would print "Listening on" to stdout, which is for records.
        onListen: () => {},
        onError: (error) => {
          this.#log?.write(`http: internal error: ${describeError(error)}\n`);
          return text("internal error\n", 500);
        },
      }, (request) => this.handle(request));
    } catch (error) {
      const where = formatHostPort(this.#hostname, this.#port);
      throw new ListenError(`Cannot listen on ${where} for --http: ${describeError(error)}`, {
        cause: error,
      });
    }
    this.#addr = this.#server.addr;
    return this.#addr;
  }

  /** Ends every page's feed and stops serving: requests in progress get
   * {@linkcode CLOSE_WAIT_MS} to finish. */
  async close(): Promise<void> {
    this.#feed.close();
    const server = this.#server;
    if (server === null) return;
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      server.shutdown(),
      new Promise((resolve) => timer = setTimeout(resolve, CLOSE_WAIT_MS)),
    ]);
    clearTimeout(timer);
  }

  /** Answers one request (what `Deno.serve` calls; tests call it too). */
  handle(request: Request): Response {
    const url = new URL(request.url);
    if (request.method !== "GET" && request.method !== "HEAD") {
      return text("method not allowed: only GET and HEAD\n", 405, { allow: "GET, HEAD" });
    }
    const response = this.#route(request, url);
    if (request.method !== "HEAD") return response;
    // A body never sent is cancelled, so that a HEAD of /events leaves no
    // subscriber behind.
    void response.body?.cancel();
    return new Response(null, { status: response.status, headers: response.headers });
  }

  #route(request: Request, url: URL): Response {
    if (url.pathname === "/healthz") return this.#healthz();
    if (this.#token !== null) {
      const given = url.pathname === "/" ? url.searchParams.get("token") : null;
      if (given !== null) return this.#login(given);
      if (!this.#authorized(request)) {
        return text(
          "unauthorized: give the --http-token as a bearer token " +
            "(Authorization: Bearer TOKEN), or open /?token=TOKEN in a browser\n",
          401,
          { "www-authenticate": 'Bearer realm="linehub"' },
        );
      }
    }
    switch (url.pathname) {
      case "/":
        return new Response(LIVE_PAGE_HTML, {
          headers: {
            "content-type": "text/html; charset=utf-8",
            "content-security-policy": PAGE_POLICY,
            ...SECURITY_HEADERS,
          },
        });
      case "/live.js":
        return text(LIVE_PAGE_SCRIPT, 200, {
          "content-type": "text/javascript; charset=utf-8",
        });
      case "/live.css":
        return text(LIVE_PAGE_STYLE, 200, { "content-type": "text/css; charset=utf-8" });
      case "/metrics":
        return text(metricsText(this.#source.metrics()), 200, {
          "content-type": METRICS_CONTENT_TYPE,
        });
      case "/events":
        return this.#events(url);
      case "/favicon.ico":
        return new Response(null, { status: 204, headers: SECURITY_HEADERS });
      default:
        return text(`not found: ${url.pathname.length > 64 ? "" : url.pathname}\n`, 404);
    }
  }

  #healthz(): Response {
    const health = this.#health.judge(this.#source.health(), Date.now());
    return health.healthy
      ? text("ok\n")
      : text(`unavailable: ${health.problem}\n`, 503, { "retry-after": "5" });
  }

  /** `/?token=TOKEN`: sets the cookie a browser's requests carry, and sends
   * it to `/`, so the token leaves the address bar and history. */
  #login(given: string): Response {
    if (this.#token === null || !sameToken(given, this.#token)) {
      return text("unauthorized: wrong token\n", 401, {
        "www-authenticate": 'Bearer realm="linehub"',
      });
    }
    return new Response(null, {
      status: 303,
      headers: {
        location: "/",
        "set-cookie": `${TOKEN_COOKIE}=${given}; Path=/; HttpOnly; SameSite=Strict`,
        ...SECURITY_HEADERS,
      },
    });
  }

  #authorized(request: Request): boolean {
    const token = this.#token;
    if (token === null) return true;
    const header = request.headers.get("authorization");
    const bearer = header === null ? null : /^Bearer +(\S+)$/i.exec(header)?.[1] ?? null;
    if (bearer !== null) return sameToken(bearer, token);
    const fromCookie = cookie(request.headers.get("cookie"), TOKEN_COOKIE);
    return fromCookie !== null && sameToken(fromCookie, token);
  }

  #events(url: URL): Response {
    const which = url.searchParams.get("client");
    let client: number | null = null;
    if (which !== null && which !== "") {
      if (!/^[0-9]{1,15}$/.test(which)) {
        return text(
          `bad request: client must be a client number, not ${
            JSON.stringify(
              which.slice(0, 20),
            )
          }\n`,
          400,
        );
      }
      client = Number(which);
    }
    const stream = this.#feed.subscribe(client);
    if (stream === null) {
      return text("unavailable: too many live pages open; close one\n", 503, {
        "retry-after": "10",
      });
    }
    return new Response(stream, {
      headers: {
        "content-type": "text/event-stream; charset=utf-8",
        ...SECURITY_HEADERS,
      },
    });
  }

  async #stateJson(): Promise<string> {
    const source = this.#source;
    const clients = await source.clients();
    return liveStateJson({
      time: Date.now(),
      node: source.node,
      version: source.version,
      tail: this.#tail,
      stats: source.stats(),
      clients,
      health: this.#health.judge(source.health(), Date.now()),
    });
  }
}
