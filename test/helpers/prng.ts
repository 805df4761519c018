export { mulberry32 } from "../../src/sim/prng.ts";
