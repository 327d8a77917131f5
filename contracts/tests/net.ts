// A whole cocoon network in TON's emulator: a root with its owner, and helpers to register
// proxies, open client and worker contracts, and read what each transaction did.
import { Blockchain, BlockchainTransaction, SandboxContract, TreasuryContract } from '@ton/sandbox';
import { Address, Cell, toNano } from '@ton/core';
import { KeyPair, keyPairFromSeed } from '@ton/crypto';
import { Codes, loadCodes } from '../wrappers/codes';
import { NetworkParams, defaultParams } from '../wrappers/params';
import { Root } from '../wrappers/root';
import { addressOf, clientStateInit, workerStateInit } from '../wrappers/children';
import { ClientContract, ProxyContract, WorkerContract } from '../wrappers/contracts';

export const codes: Codes = loadCodes();

export interface Net {
    chain: Blockchain;
    owner: SandboxContract<TreasuryContract>;
    root: SandboxContract<Root>;
    params: NetworkParams;
}

export async function network(overrides: Partial<NetworkParams> = {}): Promise<Net> {
    const chain = await Blockchain.create();
    chain.now = 1_800_000_000;
    const owner = await chain.treasury('governance');
    const params = { ...defaultParams(), minProxyStake: toNano('10'), ...overrides };
    const root = chain.openContract(
        Root.fromConfig({ owner: owner.address, params, proxyImageHashes: [0xaan], workerImageHashes: [0xbbn], modelHashes: [0xccn] }, codes),
    );
    const r = await root.sendDeploy(owner.getSender(), toNano('1'));
    void r;
    return { chain, owner, root, params };
}

export interface Proxy {
    operator: SandboxContract<TreasuryContract>;
    keys: KeyPair;
    contract: SandboxContract<ProxyContract>;
    seqno: number;
}

export function seedKeys(byte: number): KeyPair {
    return keyPairFromSeed(Buffer.alloc(32, byte));
}

export async function registerProxy(net: Net, name = 'proxy-op', keys = seedKeys(0x42), stake = toNano('10')): Promise<Proxy> {
    const operator = await net.chain.treasury(name);
    const publicKey = BigInt('0x' + keys.publicKey.toString('hex'));
    const res = await net.root.sendRegisterProxy(operator.getSender(), stake + toNano('0.1'), {
        publicKey, stake, clientEndpoint: '127.0.0.1:8888', workerEndpoint: '127.0.0.1:8889',
    });
    void res;
    const { lastProxySeqno } = await net.root.getRootData();
    const address = await net.root.getProxyAddress(operator.address, publicKey, lastProxySeqno);
    return { operator, keys, contract: net.chain.openContract(new ProxyContract(address)), seqno: lastProxySeqno };
}

export function publicKeyOf(keys: KeyPair): bigint {
    return BigInt('0x' + keys.publicKey.toString('hex'));
}

export function clientContract(net: Net, proxy: Proxy, owner: Address): SandboxContract<ClientContract> {
    const init = clientStateInit(codes, net.params, owner, proxy.contract.address, publicKeyOf(proxy.keys));
    return net.chain.openContract(new ClientContract(addressOf(init), init));
}

export function workerContract(net: Net, proxy: Proxy, owner: Address): SandboxContract<WorkerContract> {
    const init = workerStateInit(codes, net.params, owner, proxy.contract.address, publicKeyOf(proxy.keys));
    return net.chain.openContract(new WorkerContract(addressOf(init), init));
}

/** What happened to one transaction: its account, exit code, whether it was aborted, fees. */
export function outcome(tx: BlockchainTransaction) {
    const d = tx.description;
    if (d.type !== 'generic') throw new Error(`unexpected transaction type ${d.type}`);
    const compute = d.computePhase;
    // A non-bounceable payment too small to buy gas skips the compute phase; its value is still
    // credited, so it counts as delivered.
    const info = tx.inMessage?.info;
    const creditedOnly = compute.type === 'skipped' && info?.type === 'internal' && !info.bounce;
    return {
        to: tx.inMessage?.info.dest as Address,
        exitCode: compute.type === 'vm' ? compute.exitCode : -1,
        gasUsed: compute.type === 'vm' ? compute.gasUsed : 0n,
        success: creditedOnly || (compute.type === 'vm' && compute.success && (d.actionPhase?.success ?? true) && !d.aborted),
        actionCode: d.actionPhase?.resultCode ?? 0,
        aborted: d.aborted,
        fees: tx.totalFees.coins,
        bounced: tx.inMessage?.info.type === 'internal' && tx.inMessage.info.bounced,
    };
}

/** The transaction that `address` ran in `txs` (the first one, unless `nth` says otherwise). */
export function txOn(txs: BlockchainTransaction[], address: Address, nth = 0) {
    const found = txs.filter((t) => (t.inMessage?.info.dest as Address | undefined)?.equals?.(address));
    if (found.length <= nth) throw new Error(`no transaction #${nth} on ${address}`);
    return outcome(found[nth]);
}

export function bodyOp(c: Cell): number {
    return c.beginParse().loadUint(32);
}

/** Asserts that the transaction on `address` failed with `code` (and so changed nothing). */
export function expectRefused(txs: BlockchainTransaction[], address: Address, code: number) {
    const o = txOn(txs, address);
    if (o.success || o.exitCode !== code) {
        throw new Error(`expected exit code ${code} on ${address}, got exit ${o.exitCode} (success ${o.success})`);
    }
}

/** Asserts that every transaction of a message chain succeeded. */
export function expectAllOk(txs: BlockchainTransaction[]) {
    for (const t of txs) {
        const o = outcome(t);
        if (!o.success) throw new Error(`transaction on ${o.to} failed: exit ${o.exitCode}, action ${o.actionCode}`);
    }
}

/** Nanotons that arrived at `address` in `txs` (internal messages, not bounces). */
export function received(txs: BlockchainTransaction[], address: Address): bigint {
    let sum = 0n;
    for (const t of txs) {
        const info = t.inMessage?.info;
        if (info?.type === 'internal' && info.dest.equals(address)) sum += info.value.coins;
    }
    return sum;
}

export async function balanceOf(net: Net, address: Address): Promise<bigint> {
    return (await net.chain.getContract(address)).balance;
}
