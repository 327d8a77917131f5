// Initial states of the proxy, client and worker contracts (src/storage.tolk), computed off
// chain exactly as the root and the proxy contract compute them on chain.
import { Address, Cell, beginCell, contractAddress } from '@ton/core';
import { Codes } from './codes';
import { NetworkParams, paramsCell } from './params';

export type StateInit = { code: Cell; data: Cell };

/** The proxy contract the root creates for registration `seqno` of (`owner`, `publicKey`). */
export function proxyStateInit(codes: Codes, root: Address, params: NetworkParams, owner: Address, publicKey: bigint, seqno: number): StateInit {
    const config = beginCell()
        .storeAddress(root)
        .storeUint(seqno, 32)
        .storeRef(paramsCell(params, { workerCode: codes.worker, clientCode: codes.client }))
        .endCell();
    const anchor = beginCell().storeUint(0, 32).storeUint(0, 256).storeUint(0, 32).endCell();
    const data = beginCell()
        .storeAddress(owner)
        .storeUint(publicKey, 256)
        .storeUint(0, 2) // state
        .storeUint(0, 32) // unlock time
        .storeCoins(0) // stake
        .storeCoins(0) // balance
        .storeCoins(0) // commission
        .storeRef(config)
        .storeRef(anchor)
        .endCell();
    return { code: codes.proxy, data };
}

/** The client contract of `owner` with the proxy contract `proxy`. */
export function clientStateInit(codes: Codes, params: NetworkParams, owner: Address, proxy: Address, proxyPublicKey: bigint): StateInit {
    const identity = beginCell().storeAddress(owner).storeAddress(proxy).storeUint(proxyPublicKey, 256).endCell();
    const data = beginCell()
        .storeUint(0, 2) // state
        .storeCoins(0) // balance
        .storeCoins(0) // stake
        .storeUint(0, 64) // tokens used
        .storeUint(0, 32) // unlock time
        .storeRef(identity)
        .storeRef(paramsCell(params, {}))
        .endCell();
    return { code: codes.client, data };
}

/** The worker contract of `owner` with the proxy contract `proxy`. */
export function workerStateInit(codes: Codes, params: NetworkParams, owner: Address, proxy: Address, proxyPublicKey: bigint): StateInit {
    const data = beginCell()
        .storeUint(0, 64) // tokens
        .storeAddress(owner)
        .storeAddress(proxy)
        .storeUint(proxyPublicKey, 256)
        .storeRef(paramsCell(params, {}))
        .endCell();
    return { code: codes.worker, data };
}

export function addressOf(init: StateInit, workchain = 0): Address {
    return contractAddress(workchain, init);
}
