/**
 * The public face of src/runner: every name listed explicitly, so a reader sees where each lives.
 */
export { throwIfAborted, sleep } from "./backend.ts";
export type { InferenceJob, InferenceResult, InferenceBackend } from "./backend.ts";
export { HARDWARE_PROFILES, hardwareProfile, SYNTHETIC_MAX_TOKENS, runSynthetic, replaySynthetic, syntheticText, createSyntheticBackend } from "./synthetic.ts";
export type { HardwareProfile, SyntheticBackendOptions } from "./synthetic.ts";
export { serverSeed, hashedTokenId, parseCompletion, createOpenAIBackend, probeOpenAIServer } from "./openai.ts";
export type { OpenAIBackendOptions, OpenAIServerProbe } from "./openai.ts";
export { fixedOutput, createFixedBackend } from "./fixed.ts";
export type { FixedBackendInit } from "./fixed.ts";
export { LLAMA_ENGINE_PROFILES, llamaEngineProfile, checkModelFile, logProbabilities, createLlamaBackend } from "./llama.ts";
export type { LlamaEngineProfile, LlamaKvCacheType, LlamaBackendOptions, LlamaEngineSettings, LlamaBackend } from "./llama.ts";
export { readGgufLayout, writeRandomWeightModel } from "./gguf.ts";
export type { GgufLayout, GgufTensor } from "./gguf.ts";
