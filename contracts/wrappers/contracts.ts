// Sandbox wrappers for the proxy, client and worker contracts: messages and getters.
import { Address, Cell, Contract, ContractProvider, Sender, SendMode, beginCell } from '@ton/core';
import { Op } from './ops';
import { StateInit } from './children';

function body(op: number, queryId: bigint, extra?: (b: ReturnType<typeof beginCell>) => void): Cell {
    const b = beginCell().storeUint(op, 32).storeUint(queryId, 64);
    if (extra) extra(b);
    return b.endCell();
}

/** Base: a contract at an address, optionally with the StateInit that deploys it. */
abstract class Base implements Contract {
    constructor(readonly address: Address, readonly init?: StateInit) {}

    async sendBody(provider: ContractProvider, via: Sender, value: bigint, msgBody: Cell, bounce = true) {
        await provider.internal(via, { value, bounce, sendMode: SendMode.PAY_GAS_SEPARATELY, body: msgBody });
    }
}

export class ProxyContract extends Base {
    static increaseStake = (q = 0n) => body(Op.proxyIncreaseStake, q);
    static withdrawCommission = (amount: bigint, q = 0n) => body(Op.proxyWithdrawCommission, q, (b) => b.storeCoins(amount));
    static saveState = (seqno: number, sessionHash: bigint, q = 0n) =>
        body(Op.proxySaveState, q, (b) => b.storeUint(seqno, 32).storeUint(sessionHash, 256));
    static startClose = (q = 0n) => body(Op.proxyStartClose, q);
    static finishClose = (q = 0n) => body(Op.proxyFinishClose, q);

    async getData(provider: ContractProvider) {
        const r = (await provider.get('get_proxy_data', [])).stack;
        return {
            owner: r.readAddress(),
            publicKey: r.readBigNumber(),
            root: r.readAddress(),
            seqno: r.readNumber(),
            state: r.readNumber(),
            unlockTime: r.readNumber(),
            stake: r.readBigNumber(),
            balance: r.readBigNumber(),
            commission: r.readBigNumber(),
            pricePerToken: r.readBigNumber(),
            workerFeePerToken: r.readBigNumber(),
            paramsVersion: r.readNumber(),
        };
    }

    async getAnchor(provider: ContractProvider) {
        const r = (await provider.get('get_anchor', [])).stack;
        return { seqno: r.readNumber(), sessionHash: r.readBigNumber(), savedAt: r.readNumber() };
    }

    async getClientAddress(provider: ContractProvider, owner: Address) {
        const arg = beginCell().storeAddress(owner).endCell();
        return (await provider.get('get_client_address', [{ type: 'slice', cell: arg }])).stack.readAddress();
    }

    async getWorkerAddress(provider: ContractProvider, owner: Address) {
        const arg = beginCell().storeAddress(owner).endCell();
        return (await provider.get('get_worker_address', [{ type: 'slice', cell: arg }])).stack.readAddress();
    }
}

export class ClientContract extends Base {
    static topUp = (q = 0n) => body(Op.clientTopUp, q);
    static increaseStake = (q = 0n) => body(Op.clientIncreaseStake, q);
    static withdraw = (amount: bigint, q = 0n) => body(Op.clientWithdraw, q, (b) => b.storeCoins(amount));
    static requestRefund = (q = 0n) => body(Op.clientRequestRefund, q);
    static forceRefund = (q = 0n) => body(Op.clientForceRefund, q);

    async getData(provider: ContractProvider) {
        const r = (await provider.get('get_client_data', [])).stack;
        return {
            state: r.readNumber(),
            balance: r.readBigNumber(),
            stake: r.readBigNumber(),
            tokensUsed: r.readBigNumber(),
            unlockTime: r.readNumber(),
            owner: r.readAddress(),
            proxy: r.readAddress(),
            proxyPublicKey: r.readBigNumber(),
            pricePerToken: r.readBigNumber(),
            minClientStake: r.readBigNumber(),
            clientDelayBeforeClose: r.readNumber(),
            paramsVersion: r.readNumber(),
        };
    }
}

export class WorkerContract extends Base {
    async getData(provider: ContractProvider) {
        const r = (await provider.get('get_worker_data', [])).stack;
        return {
            tokens: r.readBigNumber(),
            owner: r.readAddress(),
            proxy: r.readAddress(),
            proxyPublicKey: r.readBigNumber(),
            workerFeePerToken: r.readBigNumber(),
            paramsVersion: r.readNumber(),
        };
    }
}
