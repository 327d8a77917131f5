/**
 * The devnet's chain: TON's own emulator (@ton/sandbox) with wall-clock time, "blocks",
 * a per-account transaction history and persistence.
 *
 * Every change goes through `apply`: one batch (an external message from sendBoc, a faucet
 * payment, the root's deploy) runs with the emulator's time set to the wall clock, either
 * lands whole (its transactions recorded, the block seqno advanced, the state saved) or, if
 * the emulator throws, is rolled back to the snapshot taken before it. All emulator access is
 * serialized, so a get-method never sees half a batch.
 */

import { Address, Cell, loadMessage, loadTransaction, type Message, type Transaction, type TupleItem } from '@ton/core';
import { Blockchain, type BlockchainTransaction, type GetMethodResult } from '@ton/sandbox';
import { createHash } from 'node:crypto';
import { ApiError, errorMessage } from './errors';
import { deserializeSnapshot, serializeSnapshot, Store, type TxRecord } from './state';

/** A recorded transaction of one account. */
export type TxEntry = { lt: bigint; hash: Buffer; boc: string; seqno: number };

/** An account as getAddressInformation reports it. */
export type AccountInfo = {
    balance: bigint;
    state: 'active' | 'uninitialized' | 'frozen';
    code?: Cell;
    data?: Cell;
    frozenHash?: Buffer;
    lastLt: bigint;
    lastHash: Buffer;
};

/** A get-method's outcome: toncenter reports failures as an exit code, not an error. */
export type GetResult = { exitCode: number; gasUsed: bigint; stack: TupleItem[] };

/** What a batch produced. */
export type BatchResult = { transactions: BlockchainTransaction[]; seqno: number };

/** The sandbox keeps every transaction it ever ran in a protected list; we keep our own. */
type WithHistory = { transactions: BlockchainTransaction[] };

/** The account key of the history: raw form. */
function key(a: Address): string {
    return a.toRawString();
}

/** The account a transaction belongs to (the sandbox only runs messages to accounts). */
function accountOf(tx: BlockchainTransaction): Address | undefined {
    const info = tx.inMessage?.info;
    if (!info) return undefined;
    return info.type === 'external-out' ? info.src : info.dest;
}

export class Chain {
    private seqno_ = 0;
    private utime = 0;
    private readonly history = new Map<string, TxEntry[]>();
    private tail: Promise<unknown> = Promise.resolve();
    private pending = 0;

    private constructor(
        readonly blockchain: Blockchain,
        private readonly store: Store,
    ) {}

    /** Opens the chain saved in `store`, or a fresh one. */
    static async open(store: Store): Promise<Chain> {
        const blockchain = await Blockchain.create();
        blockchain.verbosity = { ...blockchain.verbosity, print: false, blockchainLogs: false, vmLogs: 'none' };
        const chain = new Chain(blockchain, store);
        const saved = store.load();
        if (saved) {
            await blockchain.loadFrom(deserializeSnapshot(saved.chain.snapshot));
            chain.seqno_ = saved.chain.seqno;
            chain.utime = saved.chain.utime;
            for (const r of saved.txs) chain.remember(r);
        }
        return chain;
    }

    /** Seqno of the last applied batch. */
    get seqno(): number {
        return this.seqno_;
    }

    /** Chain time of the last batch or get-method (unix seconds). */
    get now(): number {
        return this.utime;
    }

    /** Number of operations waiting for or holding the emulator. */
    get busy(): number {
        return this.pending;
    }

    /** Runs `fn` with the emulator to itself, after everything queued before it. */
    serial<T>(fn: () => Promise<T>): Promise<T> {
        this.pending++;
        const run = this.tail.then(fn, fn);
        this.tail = run.then(
            () => undefined,
            () => undefined,
        );
        return run.finally(() => this.pending--);
    }

    /** Sets the emulator's clock to the wall clock (never backwards). */
    private tick(): void {
        this.utime = Math.max(this.utime, Math.floor(Date.now() / 1000));
        this.blockchain.now = this.utime;
    }

    /**
     * Applies one batch: `run` drives the emulator; everything it ran is recorded as one
     * block, or nothing is if it throws.
     */
    apply(run: (bc: Blockchain) => Promise<unknown>): Promise<BatchResult> {
        return this.serial(async () => {
            this.tick();
            const before = this.blockchain.snapshot();
            const sandbox = this.blockchain as unknown as WithHistory;
            sandbox.transactions.length = 0;
            try {
                await run(this.blockchain);
            } catch (e) {
                await this.blockchain.loadFrom(before);
                throw e;
            }
            const txs = sandbox.transactions.slice();
            sandbox.transactions.length = 0;
            const seqno = this.seqno_ + 1;
            const recs: TxRecord[] = [];
            for (const tx of txs) {
                const account = accountOf(tx);
                if (!account) continue;
                recs.push({
                    seqno,
                    account: key(account),
                    lt: tx.lt.toString(),
                    hash: tx.hash().toString('hex'),
                    boc: tx.raw.toBoc({ idx: false }).toString('base64'),
                });
            }
            this.store.appendTxs(recs);
            this.seqno_ = seqno;
            for (const r of recs) this.remember(r);
            this.save();
            return { transactions: txs, seqno };
        });
    }

    /** Saves the emulator state now (also done after every batch). */
    save(): void {
        this.store.saveChain({
            version: 1,
            seqno: this.seqno_,
            utime: this.utime,
            snapshot: serializeSnapshot(this.blockchain.snapshot()),
        });
    }

    private remember(r: TxRecord): void {
        const list = this.history.get(r.account) ?? [];
        list.push({ lt: BigInt(r.lt), hash: Buffer.from(r.hash, 'hex'), boc: r.boc, seqno: r.seqno });
        this.history.set(r.account, list);
    }

    /** The recorded transactions of `address`, oldest first. */
    transactionsOf(address: Address): readonly TxEntry[] {
        return this.history.get(key(address)) ?? [];
    }

    /** Sends an external inbound message (a sendBoc) into the emulator as one batch. */
    async sendExternal(message: Cell): Promise<BatchResult> {
        let msg: Message;
        try {
            msg = loadMessage(message.beginParse());
        } catch (e) {
            throw new ApiError(400, `not a message: ${errorMessage(e)}`);
        }
        if (msg.info.type !== 'external-in') {
            throw new ApiError(400, `only external inbound messages can be sent, not ${msg.info.type}`);
        }
        try {
            return await this.apply((bc) => bc.sendMessage(msg));
        } catch (e) {
            // toncenter's words for an external the contract did not accept.
            throw new ApiError(
                500,
                `LITE_SERVER_UNKNOWN: cannot apply external message to current state : External message was not accepted\n${errorMessage(e)}`,
            );
        }
    }

    /**
     * Runs an external message on a copy of the state and returns the first transaction
     * (its fees), leaving the chain as it was.
     */
    estimate(msg: Message, ignoreChksig: boolean): Promise<Transaction> {
        return this.serial(async () => {
            this.tick();
            const before = this.blockchain.snapshot();
            const sandbox = this.blockchain as unknown as WithHistory;
            try {
                const res = await this.blockchain.sendMessage(msg, { ignoreChksig });
                const first = res.transactions[0];
                if (!first) throw new ApiError(500, 'the message produced no transaction');
                return loadTransaction(first.raw.beginParse());
            } catch (e) {
                if (e instanceof ApiError) throw e;
                throw new ApiError(
                    500,
                    `LITE_SERVER_UNKNOWN: cannot apply external message to current state : External message was not accepted\n${errorMessage(e)}`,
                );
            } finally {
                await this.blockchain.loadFrom(before);
                sandbox.transactions.length = 0;
            }
        });
    }

    /** Runs a get-method at the current state and wall-clock time. */
    runGet(address: Address, method: string | number, stack: TupleItem[]): Promise<GetResult> {
        return this.serial(async () => {
            this.tick();
            const contract = await this.blockchain.getContract(address);
            if (contract.accountState?.type !== 'active') {
                return { exitCode: -13, gasUsed: 0n, stack: [] }; // no code to run
            }
            try {
                const r: GetMethodResult = await this.blockchain.runGetMethod(address, method, stack);
                return { exitCode: r.exitCode, gasUsed: r.gasUsed, stack: r.stack };
            } catch (e) {
                const ge = e as { exitCode?: unknown; gasUsed?: unknown };
                if (typeof ge.exitCode === 'number') {
                    return { exitCode: ge.exitCode, gasUsed: typeof ge.gasUsed === 'bigint' ? ge.gasUsed : 0n, stack: [] };
                }
                throw new ApiError(500, `get-method failed: ${errorMessage(e)}`);
            }
        });
    }

    /** The state of an account (uninitialized with balance 0 if the chain never saw it). */
    account(address: Address): Promise<AccountInfo> {
        return this.serial(async () => {
            const c = await this.blockchain.getContract(address);
            const shard = c.account;
            const state = shard.account?.storage.state;
            const info: AccountInfo = {
                balance: shard.account?.storage.balance.coins ?? 0n,
                state: 'uninitialized',
                lastLt: shard.lastTransactionLt,
                lastHash: Buffer.from(shard.lastTransactionHash.toString(16).padStart(64, '0'), 'hex'),
            };
            if (state?.type === 'active') {
                info.state = 'active';
                info.code = state.state.code ?? undefined;
                info.data = state.state.data ?? undefined;
            } else if (state?.type === 'frozen') {
                info.state = 'frozen';
                info.frozenHash = Buffer.from(state.stateHash.toString(16).padStart(64, '0'), 'hex');
            }
            return info;
        });
    }

    /** A deterministic id for block `seqno` of this devnet (TON needs hashes; nobody checks them). */
    blockHash(seqno: number, what: 'root' | 'file' | 'state'): Buffer {
        return createHash('sha256').update(`cocoon-devnet:${what}:${seqno}`).digest();
    }

    /** Waits until queued operations are done, at most `ms`; true if it drained. */
    async drain(ms: number): Promise<boolean> {
        let timer: NodeJS.Timeout | undefined;
        const timeout = new Promise<boolean>((resolve) => {
            timer = setTimeout(() => resolve(false), ms);
        });
        const done = this.tail.then(() => true);
        try {
            return await Promise.race([done, timeout]);
        } finally {
            clearTimeout(timer);
        }
    }
}
