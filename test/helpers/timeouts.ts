/**
 * Timeouts for tests that spawn processes. Each `concord` child starts a fresh Node (type
 * stripping, libp2p imports): ~0.8 s alone, several seconds when other suites load the CPU, so
 * a test with a few of them passes vitest's 5 s default only on an idle machine.
 */
export const PROCESS_TEST_TIMEOUT_MS = 60_000;
