/**
 * The TON HTTP API v2 methods the devnet serves, as toncenter serves them: the same names,
 * parameters and result shapes. Each method takes its parameters as one flat object (from
 * the query string, a JSON body, or JSON-RPC `params`) and returns toncenter's `result`.
 */

import { Address, beginCell, Cell, external, loadMessage, loadTransaction, storeMessage, type Message } from '@ton/core';
import type { Chain } from './chain';
import { ApiError, incorrectAddress } from './errors';
import { cellFromBase64, parseStack, renderStack } from './stack';
import { friendly, NO_TRANSACTION, transactionId, transactionJson } from './tx-json';
import { walletDetails } from './wallets';

/** A method's parameters, whatever transport brought them. */
export type Params = Record<string, unknown>;

/** One API method. */
export type Method = (chain: Chain, p: Params) => Promise<unknown>;

const SHARD = '-9223372036854775808';

function str(p: Params, name: string, required: true): string;
function str(p: Params, name: string, required?: false): string | undefined;
function str(p: Params, name: string, required = false): string | undefined {
    const v = p[name];
    if (v === undefined || v === null || v === '') {
        if (required) throw new ApiError(422, `Validation error: parameter "${name}" is required`);
        return undefined;
    }
    if (typeof v === 'string') return v;
    if (typeof v === 'number' || typeof v === 'bigint') return String(v);
    throw new ApiError(422, `Validation error: parameter "${name}" must be a string`);
}

function int(p: Params, name: string): bigint | undefined {
    const s = str(p, name);
    if (s === undefined) return undefined;
    if (!/^-?\d+$/.test(s.trim())) throw new ApiError(422, `Validation error: parameter "${name}" must be an integer`);
    return BigInt(s.trim());
}

function bool(p: Params, name: string, dflt: boolean): boolean {
    const v = p[name];
    if (v === undefined || v === null || v === '') return dflt;
    if (typeof v === 'boolean') return v;
    if (v === 'true' || v === '1' || v === 1) return true;
    if (v === 'false' || v === '0' || v === 0) return false;
    throw new ApiError(422, `Validation error: parameter "${name}" must be a boolean`);
}

function address(p: Params, name = 'address'): Address {
    const s = str(p, name, true);
    try {
        return Address.parse(s.trim());
    } catch {
        throw incorrectAddress();
    }
}

/** toncenter's `ton.blockIdExt` of the devnet's block `seqno` (workchain -1 or 0). */
export function blockId(chain: Chain, seqno: number, workchain = -1): object {
    return {
        '@type': 'ton.blockIdExt',
        workchain,
        shard: SHARD,
        seqno,
        root_hash: chain.blockHash(seqno, 'root').toString('base64'),
        file_hash: chain.blockHash(seqno, 'file').toString('base64'),
    };
}

function lastTxId(lt: bigint, hash: Buffer): object {
    return lt === 0n ? NO_TRANSACTION : transactionId(lt, hash);
}

function boc(cell: Cell): string {
    return cell.toBoc({ idx: false }).toString('base64');
}

const getAddressInformation: Method = async (chain, p) => {
    const a = await chain.account(address(p));
    return {
        '@type': 'raw.fullAccountState',
        balance: a.balance.toString(),
        extra_currencies: [],
        code: a.code ? boc(a.code) : '',
        data: a.data ? boc(a.data) : '',
        last_transaction_id: lastTxId(a.lastLt, a.lastHash),
        block_id: blockId(chain, chain.seqno, 0),
        frozen_hash: a.frozenHash ? a.frozenHash.toString('base64') : '',
        sync_utime: Math.max(chain.now, Math.floor(Date.now() / 1000)),
        state: a.state,
    };
};

const getAddressBalance: Method = async (chain, p) => (await chain.account(address(p))).balance.toString();

const getAddressState: Method = async (chain, p) => (await chain.account(address(p))).state;

const getWalletInformation: Method = async (chain, p) => {
    const a = await chain.account(address(p));
    const wallet = a.state === 'active' ? walletDetails(a.code, a.data) : undefined;
    return {
        wallet: wallet !== undefined,
        balance: a.balance.toString(),
        account_state: a.state,
        ...(wallet ?? {}),
        last_transaction_id: lastTxId(a.lastLt, a.lastHash),
    };
};

/** Paging as pytonlib does it: from (lt, hash) inclusive, newest first, down to to_lt exclusive. */
const getTransactions: Method = async (chain, p) => {
    const acc = address(p);
    const limit = Number(int(p, 'limit') ?? 10n);
    if (!(limit > 0 && limit <= 100)) throw new ApiError(422, 'Validation error: limit must be between 1 and 100');
    const lt = int(p, 'lt');
    const hashParam = str(p, 'hash');
    const toLt = int(p, 'to_lt') ?? 0n;
    bool(p, 'archival', false); // every devnet node is archival
    const all = chain.transactionsOf(acc);
    let start = all.length - 1;
    if (lt !== undefined && hashParam !== undefined) {
        const hash = parseHash(hashParam);
        start = all.findIndex((t) => t.lt === lt && t.hash.equals(hash));
        if (start < 0) throw new ApiError(404, `transaction lt ${lt} hash ${hashParam} of ${friendly(acc)} not found`);
    }
    const out: object[] = [];
    for (let i = start; i >= 0 && out.length < limit; i--) {
        const t = all[i];
        if (t.lt <= toLt) break;
        const tx = loadTransaction(Cell.fromBase64(t.boc).beginParse());
        out.push(transactionJson(acc, tx));
    }
    return out;
};

/** A transaction hash in hex (64 digits) or base64, as toncenter accepts it. */
function parseHash(s: string): Buffer {
    const t = s.trim();
    if (/^[0-9a-fA-F]{64}$/.test(t)) return Buffer.from(t, 'hex');
    const b = Buffer.from(t.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
    if (b.length !== 32) throw new ApiError(422, 'Validation error: hash must be 32 bytes in hex or base64');
    return b;
}

const getMasterchainInfo: Method = async (chain) => ({
    '@type': 'blocks.masterchainInfo',
    last: blockId(chain, chain.seqno),
    state_root_hash: chain.blockHash(chain.seqno, 'state').toString('base64'),
    init: blockId(chain, 0),
});

const runGetMethod: Method = async (chain, p) => {
    const acc = address(p);
    const m = p.method;
    let method: string | number;
    if (typeof m === 'number' && Number.isSafeInteger(m)) method = m;
    else if (typeof m === 'string' && m.trim() !== '') method = /^-?\d+$/.test(m.trim()) ? Number(m.trim()) : m.trim();
    else throw new ApiError(422, 'Validation error: parameter "method" (name or id) is required');
    const r = await chain.runGet(acc, method, parseStack(p.stack));
    const a = await chain.account(acc);
    return {
        '@type': 'smc.runResult',
        gas_used: Number(r.gasUsed),
        stack: renderStack(r.stack),
        exit_code: r.exitCode,
        block_id: blockId(chain, chain.seqno, 0),
        last_transaction_id: lastTxId(a.lastLt, a.lastHash),
    };
};

/** The external message in a sendBoc's `boc`. */
function bocMessage(p: Params): Cell {
    return cellFromBase64(str(p, 'boc', true), 'boc');
}

const sendBoc: Method = async (chain, p) => {
    await chain.sendExternal(bocMessage(p));
    return { '@type': 'ok' };
};

/** TEP-467's normalized hash of an external message: no src, no import fee, no init, body by ref. */
function normalizedHash(msg: Message): Buffer {
    if (msg.info.type !== 'external-in') return Buffer.alloc(32);
    return beginCell()
        .storeUint(2, 2)
        .storeUint(0, 2)
        .storeAddress(msg.info.dest)
        .storeCoins(0)
        .storeBit(false)
        .storeBit(true)
        .storeRef(msg.body)
        .endCell()
        .hash();
}

const sendBocReturnHash: Method = async (chain, p) => {
    const cell = bocMessage(p);
    await chain.sendExternal(cell);
    const msg = loadMessage(cell.beginParse());
    return {
        '@type': 'raw.extMessageInfo',
        hash: cell.hash().toString('base64'),
        hash_norm: normalizedHash(msg).toString('base64'),
    };
};

const estimateFee: Method = async (chain, p) => {
    const to = address(p);
    const body = cellFromBase64(str(p, 'body', true), 'body');
    const code = str(p, 'init_code');
    const data = str(p, 'init_data');
    const init =
        code || data
            ? { code: code ? cellFromBase64(code, 'init_code') : undefined, data: data ? cellFromBase64(data, 'init_data') : undefined }
            : undefined;
    const msg = external({ to, body, init });
    // Round-trip through a cell so the emulator sees exactly what a sendBoc would carry.
    const cell = beginCell().store(storeMessage(msg)).endCell();
    const tx = await chain.estimate(loadMessage(cell.beginParse()), bool(p, 'ignore_chksig', true));
    const d = tx.description;
    let storage = 0n;
    let gas = 0n;
    let fwd = 0n;
    let action = 0n;
    if (d.type === 'generic') {
        storage = d.storagePhase?.storageFeesCollected ?? 0n;
        gas = d.computePhase.type === 'vm' ? d.computePhase.gasFees : 0n;
        fwd = d.actionPhase?.totalFwdFees ?? 0n;
        action = d.actionPhase?.totalActionFees ?? 0n;
    }
    const inFwd = tx.totalFees.coins - storage - gas - action;
    return {
        '@type': 'query.fees',
        source_fees: {
            '@type': 'fees',
            in_fwd_fee: Number(inFwd > 0n ? inFwd : 0n),
            storage_fee: Number(storage),
            gas_fee: Number(gas),
            fwd_fee: Number(fwd),
        },
        destination_fees: [],
    };
};

/** Every method, by its toncenter name. */
export const METHODS: Record<string, Method> = {
    getAddressInformation,
    getAddressBalance,
    getAddressState,
    getWalletInformation,
    getTransactions,
    getMasterchainInfo,
    runGetMethod,
    sendBoc,
    sendBocReturnHash,
    estimateFee,
};

/** Runs method `name`; an unknown name is toncenter's 404 (REST) — JSON-RPC maps it to 422. */
export async function call(chain: Chain, name: string, p: Params): Promise<unknown> {
    const m = Object.prototype.hasOwnProperty.call(METHODS, name) ? METHODS[name] : undefined;
    if (!m) throw new ApiError(404, `Not Found: the devnet does not serve ${name}`);
    return m(chain, p);
}
