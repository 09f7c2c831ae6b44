/**
 * Seeded randomness for property tests: the same seed gives the same
 * sequence, so a failure can be replayed. The one PRNG lives with the soak
 * in tools/seeded_random.ts, which the tests share.
 *
 * @module
 */

export { randomInt, seededRandom } from "../../tools/seeded_random.ts";
