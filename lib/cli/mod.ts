/**
 * The two programs as functions from arguments to an exit status:
 * `runServerCli` and `runClientCli`, with their flags, usage texts, signals
 * and version. The only part that imports the server and the client.
 *
 * @module
 */

export * from "./client_cli.ts";
export * from "./server_cli.ts";
