/**
 * The contracts in contracts/, compiled by the solc npm package (soljson: no download) and run on
 * an in-process EVM (@ethereumjs/evm, Prague rules). For the certificate tests and the gas bench.
 */
import { readdirSync, readFileSync } from "node:fs";
import { Common, Hardfork, Mainnet } from "@ethereumjs/common";
import { createEVM, type EVM } from "@ethereumjs/evm";
import { createAddressFromString, type Address } from "@ethereumjs/util";
import { keccak_256 } from "@noble/hashes/sha3.js";
import solc from "solc";
import { fromHex, toHex, utf8 } from "../../src/wire/hash.ts";
import type { Bytes } from "../../src/wire/types.ts";

export const CONTRACTS_DIR = new URL("../../contracts/", import.meta.url);

/** Pinned compiler settings: what the gas figures were measured with. */
export const SOLC_SETTINGS = { optimizer: { enabled: true, runs: 200 }, evmVersion: "prague" } as const;

export interface CompiledContract {
  abi: unknown[];
  bytecode: Bytes;
}

interface SolcOutput {
  errors?: { severity: string; formattedMessage: string }[];
  contracts: Record<string, Record<string, { abi: unknown[]; evm: { bytecode: { object: string } } }>>;
}

let compiled: Map<string, CompiledContract> | undefined;

/** Every contract in contracts/*.sol, compiled once per process; a compiler error or warning throws. */
export function compileContracts(): Map<string, CompiledContract> {
  if (compiled) return compiled;
  const sources = Object.fromEntries(
    readdirSync(CONTRACTS_DIR)
      .filter((file) => file.endsWith(".sol"))
      .map((file) => [file, { content: readFileSync(new URL(file, CONTRACTS_DIR), "utf8") }]),
  );
  const input = {
    language: "Solidity",
    sources,
    settings: { ...SOLC_SETTINGS, outputSelection: { "*": { "*": ["abi", "evm.bytecode.object"] } } },
  };
  const output = JSON.parse(solc.compile(JSON.stringify(input))) as SolcOutput;
  const problems = (output.errors ?? []).filter((error) => error.severity === "error" || error.severity === "warning");
  if (problems.length > 0) throw new Error(`solc:\n${problems.map((p) => p.formattedMessage).join("\n")}`);
  compiled = new Map();
  for (const file of Object.values(output.contracts)) {
    for (const [name, contract] of Object.entries(file)) compiled.set(name, { abi: contract.abi, bytecode: fromHex(contract.evm.bytecode.object) });
  }
  return compiled;
}

export function solcVersion(): string {
  return solc.version();
}

/** The 4-byte selector of a function or error signature. */
export function selector(signature: string): Bytes {
  return keccak_256(utf8(signature)).subarray(0, 4);
}

export function word(value: bigint | number | Bytes): Bytes {
  if (value instanceof Uint8Array) {
    const out = new Uint8Array(32);
    out.set(value, 32 - value.length);
    return out;
  }
  return fromHex(BigInt(value).toString(16).padStart(64, "0"));
}

export function concatBytes(...parts: Bytes[]): Bytes {
  const out = new Uint8Array(parts.reduce((total, part) => total + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/** Calldata gas at the standard rate (EIP-2028): 4 per zero byte, 16 per other byte. */
export function calldataGas(data: Bytes): number {
  let gas = 0;
  for (const byte of data) gas += byte === 0 ? 4 : 16;
  return gas;
}

export interface CallResult {
  /** Gas the call's execution used (the 21,000 base and calldata excluded). */
  gas: bigint;
  reverted: boolean;
  returnValue: Bytes;
}

/** One EVM with a funded caller; block `number` and block hashes from a label. */
export class TestChain {
  readonly evm: EVM;
  readonly caller: Address = createAddressFromString(`0x${"c0".repeat(20)}`);
  blockNumber = 100n;

  private constructor(evm: EVM) {
    this.evm = evm;
  }

  static async create(): Promise<TestChain> {
    const common = new Common({ chain: Mainnet, hardfork: Hardfork.Prague });
    const blockchain = {
      async getBlock(number: number) {
        return { hash: () => blockHash(number) };
      },
      async putBlock() {},
      shallowCopy() {
        return blockchain;
      },
    };
    return new TestChain(await createEVM({ common, blockchain }));
  }

  private block() {
    return {
      header: {
        number: this.blockNumber,
        coinbase: createAddressFromString(`0x${"00".repeat(20)}`),
        timestamp: 1_700_000_000n + this.blockNumber * 12n,
        difficulty: 0n,
        prevRandao: new Uint8Array(32),
        gasLimit: 60_000_000n,
        baseFeePerGas: 0n,
        slotNumber: 0n,
        getBlobGasPrice: () => undefined,
      },
    };
  }

  /** Deploys creation code with ABI-encoded constructor arguments; returns the address. */
  async deploy(bytecode: Bytes, args: Bytes = new Uint8Array(0)): Promise<Address> {
    const result = await this.evm.runCall({ caller: this.caller, data: concatBytes(bytecode, args), gasLimit: 30_000_000n, block: this.block() });
    if (result.execResult.exceptionError || !result.createdAddress) throw new Error(`deploy failed: ${result.execResult.exceptionError?.error ?? "no address"}`);
    return result.createdAddress;
  }

  async call(to: Address, data: Bytes, gasLimit = 30_000_000n): Promise<CallResult> {
    const result = await this.evm.runCall({ caller: this.caller, to, data, gasLimit, block: this.block() });
    return { gas: result.execResult.executionGasUsed, reverted: result.execResult.exceptionError !== undefined, returnValue: result.execResult.returnValue };
  }
}

/** The (made-up) hash of block `number`: keccak-256("block" || number). */
export function blockHash(number: number | bigint): Bytes {
  return keccak_256(utf8(`block-${number}`));
}

export function hex(bytes: Bytes): string {
  return `0x${toHex(bytes)}`;
}
