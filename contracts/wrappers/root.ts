// The root contract (src/root.tolk): its initial state, messages and getters.
import {
    Address, Builder, Cell, Contract, ContractProvider, Dictionary, Sender, SendMode, beginCell, contractAddress,
} from '@ton/core';
import { Codes, loadCodes } from './codes';
import { NetworkParams, defaultParams, paramsCell, readParams } from './params';
import { Op } from './ops';

export { loadCodes, defaultParams };
export type { NetworkParams };

/** What a new root starts with. */
export interface RootConfig {
    owner: Address;
    params: NetworkParams;
    proxyImageHashes: bigint[];
    workerImageHashes: bigint[];
    modelHashes: bigint[];
}

function hashSet(hashes: bigint[]): Dictionary<bigint, boolean> {
    const d = Dictionary.empty(Dictionary.Keys.BigUint(256), Dictionary.Values.Bool());
    for (const h of hashes) d.set(h, true);
    return d;
}

/** The root's StateInit for `cfg`; the root params carry all three child codes. */
export function rootStateInit(cfg: RootConfig, codes: Codes = loadCodes()): { code: Cell; data: Cell } {
    const lists = beginCell()
        .storeDict(hashSet(cfg.proxyImageHashes))
        .storeDict(hashSet(cfg.workerImageHashes))
        .storeDict(hashSet(cfg.modelHashes))
        .storeDict(Dictionary.empty(Dictionary.Keys.BigUint(256), Dictionary.Values.Cell()))
        .endCell();
    const params = paramsCell(cfg.params, { proxyCode: codes.proxy, workerCode: codes.worker, clientCode: codes.client });
    const data = beginCell()
        .storeAddress(cfg.owner)
        .storeUint(0, 32) // version
        .storeUint(0, 32) // last proxy seqno
        .storeUint(0, 32) // proxy count
        .storeRef(lists)
        .storeRef(params)
        .endCell();
    return { code: codes.root, data };
}

/** A registered proxy as the root lists it. */
export interface ProxyEntry {
    seqno: number;
    owner: Address;
    publicKey: bigint;
    stake: bigint;
    paramsVersion: number;
    registeredAt: number;
    clientEndpoint: string;
    workerEndpoint: string;
    reportUrl: string | null;
}

export function parseProxyEntry(c: Cell): ProxyEntry {
    const s = c.beginParse();
    const entry = {
        seqno: s.loadUint(32),
        owner: s.loadAddress(),
        publicKey: s.loadUintBig(256),
        stake: s.loadCoins(),
        paramsVersion: s.loadUint(32),
        registeredAt: s.loadUint(32),
    };
    const endpoints = s.loadRef().beginParse();
    const clientEndpoint = endpoints.loadRef().beginParse().loadStringTail();
    const workerEndpoint = endpoints.loadRef().beginParse().loadStringTail();
    // Older registrations end here; newer ones say whether a report URL follows.
    const reportUrl = endpoints.remainingBits > 0 && endpoints.loadBit() ? endpoints.loadRef().beginParse().loadStringTail() : null;
    return { ...entry, clientEndpoint, workerEndpoint, reportUrl };
}

/** The endpoints cell of a registration: two snake strings, each in its own ref, and the report URL when given. */
export function endpointsCell(clientEndpoint: string, workerEndpoint: string, reportUrl?: string): Cell {
    const str = (s: string) => beginCell().storeStringTail(s).endCell();
    const b = beginCell().storeRef(str(clientEndpoint)).storeRef(str(workerEndpoint));
    return (reportUrl === undefined ? b.storeBit(false) : b.storeBit(true).storeRef(str(reportUrl))).endCell();
}

export class Root implements Contract {
    constructor(readonly address: Address, readonly init?: { code: Cell; data: Cell }) {}

    static fromConfig(cfg: RootConfig, codes?: Codes, workchain = 0) {
        const init = rootStateInit(cfg, codes);
        return new Root(contractAddress(workchain, init), init);
    }

    async sendDeploy(provider: ContractProvider, via: Sender, value: bigint) {
        await provider.internal(via, { value, sendMode: SendMode.PAY_GAS_SEPARATELY, body: Cell.EMPTY });
    }

    static registerBody(opts: { queryId?: bigint; publicKey: bigint; stake: bigint; clientEndpoint: string; workerEndpoint: string; reportUrl?: string }) {
        return beginCell()
            .storeUint(Op.registerProxy, 32)
            .storeUint(opts.queryId ?? 0n, 64)
            .storeUint(opts.publicKey, 256)
            .storeCoins(opts.stake)
            .storeRef(endpointsCell(opts.clientEndpoint, opts.workerEndpoint, opts.reportUrl))
            .endCell();
    }

    async sendRegisterProxy(
        provider: ContractProvider, via: Sender, value: bigint,
        opts: { queryId?: bigint; publicKey: bigint; stake: bigint; clientEndpoint: string; workerEndpoint: string; reportUrl?: string },
    ) {
        await provider.internal(via, { value, sendMode: SendMode.PAY_GAS_SEPARATELY, body: Root.registerBody(opts) });
    }

    async sendUpdateParams(provider: ContractProvider, via: Sender, value: bigint, params: NetworkParams, codes: Codes = loadCodes()) {
        const body = beginCell()
            .storeUint(Op.updateParams, 32)
            .storeUint(0, 64)
            .storeRef(paramsCell(params, { proxyCode: codes.proxy, workerCode: codes.worker, clientCode: codes.client }))
            .endCell();
        await provider.internal(via, { value, sendMode: SendMode.PAY_GAS_SEPARATELY, body });
    }

    async sendUpdateAllowlist(provider: ContractProvider, via: Sender, value: bigint, list: number, hash: bigint, add: boolean) {
        const body = beginCell()
            .storeUint(Op.updateAllowlist, 32)
            .storeUint(0, 64)
            .storeUint(list, 8)
            .storeUint(hash, 256)
            .storeBit(add)
            .endCell();
        await provider.internal(via, { value, sendMode: SendMode.PAY_GAS_SEPARATELY, body });
    }

    async sendChangeOwner(provider: ContractProvider, via: Sender, value: bigint, newOwner: Address) {
        const body = beginCell().storeUint(Op.changeOwner, 32).storeUint(0, 64).storeAddress(newOwner).endCell();
        await provider.internal(via, { value, sendMode: SendMode.PAY_GAS_SEPARATELY, body });
    }

    async sendBody(provider: ContractProvider, via: Sender, value: bigint, body: Cell) {
        await provider.internal(via, { value, sendMode: SendMode.PAY_GAS_SEPARATELY, body });
    }

    async getRootData(provider: ContractProvider) {
        const r = (await provider.get('get_root_data', [])).stack;
        return {
            owner: r.readAddress(),
            version: r.readNumber(),
            paramsVersion: r.readNumber(),
            lastProxySeqno: r.readNumber(),
            proxyCount: r.readNumber(),
        };
    }

    async getParams(provider: ContractProvider) {
        return readParams((await provider.get('get_params', [])).stack);
    }

    async getHashIsValid(provider: ContractProvider, getter: 'proxy_hash_is_valid' | 'worker_hash_is_valid' | 'model_hash_is_valid', hash: bigint) {
        return (await provider.get(getter, [{ type: 'int', value: hash }])).stack.readBoolean();
    }

    async getProxies(provider: ContractProvider): Promise<Map<bigint, ProxyEntry>> {
        const cell = (await provider.get('get_proxies', [])).stack.readCellOpt();
        const out = new Map<bigint, ProxyEntry>();
        if (!cell) return out;
        const d = Dictionary.loadDirect(Dictionary.Keys.BigUint(256), Dictionary.Values.Cell(), cell);
        for (const [k, v] of d) out.set(k, parseProxyEntry(v));
        return out;
    }

    async getProxy(provider: ContractProvider, proxy: Address): Promise<ProxyEntry | null> {
        const arg = beginCell().storeAddress(proxy).endCell();
        const cell = (await provider.get('get_proxy', [{ type: 'slice', cell: arg }])).stack.readCellOpt();
        return cell ? parseProxyEntry(cell) : null;
    }

    async getProxyAddress(provider: ContractProvider, owner: Address, publicKey: bigint, seqno: number) {
        const stack = (await provider.get('get_proxy_address', [
            { type: 'slice', cell: beginCell().storeAddress(owner).endCell() },
            { type: 'int', value: publicKey },
            { type: 'int', value: BigInt(seqno) },
        ])).stack;
        return stack.readAddress();
    }
}

export function storeAddressOpt(b: Builder, a: Address | null | undefined) {
    return b.storeAddress(a ?? null);
}
