// The network params (src/params.tolk) in TypeScript: building the cell and reading the getter.
import { Builder, Cell, TupleReader, beginCell } from '@ton/core';

/** Network parameters, as the root holds them (codes are added when the cell is built). */
export interface NetworkParams {
    paramsVersion: number;
    uniqueId: number;
    isTest: boolean;
    pricePerToken: bigint;
    workerFeePerToken: bigint;
    promptMultiplier: number;
    cachedMultiplier: number;
    completionMultiplier: number;
    reasoningMultiplier: number;
    proxyDelayBeforeClose: number;
    clientDelayBeforeClose: number;
    minProxyStake: bigint;
    minClientStake: bigint;
}

/** Which codes a params copy carries: the root all three, a proxy two, children none. */
export interface ParamsCodes {
    proxyCode?: Cell | null;
    workerCode?: Cell | null;
    clientCode?: Cell | null;
}

export const PARAMS_STRUCT_VERSION = 1;

/** Cocoon's test network prices (2 and 1 nanotons per token), one-day close delays. */
export function defaultParams(): NetworkParams {
    return {
        paramsVersion: 1,
        uniqueId: 0,
        isTest: true,
        pricePerToken: 2n,
        workerFeePerToken: 1n,
        promptMultiplier: 10000,
        cachedMultiplier: 10000,
        completionMultiplier: 10000,
        reasoningMultiplier: 10000,
        proxyDelayBeforeClose: 86400,
        clientDelayBeforeClose: 86400,
        minProxyStake: 10_000_000_000n,
        minClientStake: 100_000_000n,
    };
}

export function storeParams(p: NetworkParams, codes: ParamsCodes) {
    return (b: Builder) => {
        b.storeUint(PARAMS_STRUCT_VERSION, 8)
            .storeUint(p.paramsVersion, 32)
            .storeUint(p.uniqueId, 32)
            .storeBit(p.isTest)
            .storeCoins(p.pricePerToken)
            .storeCoins(p.workerFeePerToken)
            .storeUint(p.promptMultiplier, 32)
            .storeUint(p.cachedMultiplier, 32)
            .storeUint(p.completionMultiplier, 32)
            .storeUint(p.reasoningMultiplier, 32)
            .storeUint(p.proxyDelayBeforeClose, 32)
            .storeUint(p.clientDelayBeforeClose, 32)
            .storeCoins(p.minProxyStake)
            .storeCoins(p.minClientStake)
            .storeMaybeRef(codes.proxyCode ?? null)
            .storeMaybeRef(codes.workerCode ?? null)
            .storeMaybeRef(codes.clientCode ?? null);
    };
}

export function paramsCell(p: NetworkParams, codes: ParamsCodes): Cell {
    return beginCell().store(storeParams(p, codes)).endCell();
}

/** Reads the `get_params` getter's 17 stack entries. */
export function readParams(r: TupleReader): NetworkParams & { structVersion: number } & ParamsCodes {
    return {
        structVersion: r.readNumber(),
        paramsVersion: r.readNumber(),
        uniqueId: r.readNumber(),
        isTest: r.readBoolean(),
        pricePerToken: r.readBigNumber(),
        workerFeePerToken: r.readBigNumber(),
        promptMultiplier: r.readNumber(),
        cachedMultiplier: r.readNumber(),
        completionMultiplier: r.readNumber(),
        reasoningMultiplier: r.readNumber(),
        proxyDelayBeforeClose: r.readNumber(),
        clientDelayBeforeClose: r.readNumber(),
        minProxyStake: r.readBigNumber(),
        minClientStake: r.readBigNumber(),
        proxyCode: r.readCellOpt(),
        workerCode: r.readCellOpt(),
        clientCode: r.readCellOpt(),
    };
}
