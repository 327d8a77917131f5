/**
 * The devnet's data dir: the emulator's state, the transaction history and a lock.
 *
 *   chain.json         the emulator snapshot (@ton/sandbox's own serializable form: cells as
 *                      BOC base64, bigints as strings) plus the block seqno; replaced atomically
 *                      (temp file, fsync, rename) after every applied batch
 *   transactions.jsonl every recorded transaction, one JSON line each, tagged with the seqno
 *                      of its batch; appended (and fsynced) before chain.json is replaced, so a
 *                      crash in between leaves lines newer than chain.json, dropped at load
 *   devnet.json        what a person or a tool needs: endpoint, root, owner, params
 *   devnet.lock        the pid of the devnet using this dir
 */

import * as fs from 'node:fs';
import * as path from 'node:path';
import { snapshotFromSerializable, snapshotToSerializable, type BlockchainSnapshot } from '@ton/sandbox';

/** @ton/sandbox's JSON-ready snapshot. */
export type SerializableSnapshot = ReturnType<typeof snapshotToSerializable>;

/** What chain.json holds. */
export type ChainFile = {
    version: 1;
    /** Seqno of the last applied batch ("block"); 0 before the first. */
    seqno: number;
    /** Chain time of the last batch: time never goes back, even if the wall clock does. */
    utime: number;
    snapshot: SerializableSnapshot;
};

/** One recorded transaction (a line of transactions.jsonl). */
export type TxRecord = {
    /** Seqno of the batch it was applied in. */
    seqno: number;
    /** The account, raw form "wc:hex". */
    account: string;
    lt: string;
    /** Hex. */
    hash: string;
    /** The transaction's BOC, base64. */
    boc: string;
};

/** The emulator snapshot as chain.json stores it: no sandbox-side history, no empty accounts. */
export function serializeSnapshot(snap: BlockchainSnapshot): SerializableSnapshot {
    const contracts = snap.contracts.filter(
        (c) => c.account.lastTransactionLt !== 0n || (c.account.account?.storage.balance.coins ?? 0n) !== 0n,
    );
    return snapshotToSerializable({ ...snap, contracts, transactions: [] });
}

/** The emulator snapshot from chain.json. */
export function deserializeSnapshot(s: SerializableSnapshot): BlockchainSnapshot {
    return snapshotFromSerializable(s);
}

/** Writes `data` to `file` atomically: a temp file beside it, fsynced, then renamed over it. */
export function writeAtomic(file: string, data: string): void {
    const tmp = `${file}.tmp-${process.pid}`;
    const fd = fs.openSync(tmp, 'w', 0o644);
    try {
        fs.writeSync(fd, data);
        fs.fsyncSync(fd);
    } finally {
        fs.closeSync(fd);
    }
    fs.renameSync(tmp, file);
    syncDir(path.dirname(file));
}

function syncDir(dir: string): void {
    try {
        const fd = fs.openSync(dir, 'r');
        try {
            fs.fsyncSync(fd);
        } finally {
            fs.closeSync(fd);
        }
    } catch {
        // Some filesystems refuse fsync on a directory; the rename itself is still atomic.
    }
}

/** The files of one data dir. */
export class Store {
    readonly chainFile: string;
    readonly txFile: string;
    readonly infoFile: string;
    readonly lockFile: string;

    constructor(readonly dir: string) {
        this.chainFile = path.join(dir, 'chain.json');
        this.txFile = path.join(dir, 'transactions.jsonl');
        this.infoFile = path.join(dir, 'devnet.json');
        this.lockFile = path.join(dir, 'devnet.lock');
    }

    /** Creates the dir and takes its lock; throws if a live process holds it. */
    lock(): void {
        fs.mkdirSync(this.dir, { recursive: true });
        for (let attempt = 0; attempt < 2; attempt++) {
            try {
                const fd = fs.openSync(this.lockFile, 'wx');
                fs.writeSync(fd, `${process.pid}\n`);
                fs.closeSync(fd);
                return;
            } catch (e) {
                if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
                const pid = Number.parseInt(fs.readFileSync(this.lockFile, 'utf8').trim(), 10);
                if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && alive(pid)) {
                    throw new Error(`data dir ${this.dir} is in use by another devnet (pid ${pid})`);
                }
                fs.rmSync(this.lockFile, { force: true }); // stale: its process is gone
            }
        }
        throw new Error(`could not lock data dir ${this.dir}`);
    }

    /** Releases the lock if this process holds it. */
    unlock(): void {
        try {
            if (fs.readFileSync(this.lockFile, 'utf8').trim() === String(process.pid)) fs.rmSync(this.lockFile);
        } catch {
            // already gone
        }
    }

    /** The saved chain and its transactions, or undefined for a fresh dir. */
    load(): { chain: ChainFile; txs: TxRecord[] } | undefined {
        if (!fs.existsSync(this.chainFile)) return undefined;
        let chain: ChainFile;
        try {
            chain = JSON.parse(fs.readFileSync(this.chainFile, 'utf8')) as ChainFile;
        } catch (e) {
            throw new Error(`${this.chainFile} is unreadable (${(e as Error).message}); move it away to start afresh`);
        }
        if (chain.version !== 1) throw new Error(`${this.chainFile}: unknown version ${String(chain.version)}`);
        const txs: TxRecord[] = [];
        let dropped = 0;
        if (fs.existsSync(this.txFile)) {
            for (const line of fs.readFileSync(this.txFile, 'utf8').split('\n')) {
                if (line.trim() === '') continue;
                let rec: TxRecord;
                try {
                    rec = JSON.parse(line) as TxRecord;
                } catch {
                    dropped++; // a torn last line
                    continue;
                }
                if (rec.seqno > chain.seqno) dropped++;
                else txs.push(rec);
            }
        }
        if (dropped > 0) {
            // Lines of a batch whose chain.json never landed: forget them for good.
            writeAtomic(this.txFile, txs.map((t) => JSON.stringify(t) + '\n').join(''));
        }
        return { chain, txs };
    }

    /** Appends transactions to the history, durably. */
    appendTxs(recs: TxRecord[]): void {
        if (recs.length === 0) return;
        const fd = fs.openSync(this.txFile, 'a', 0o644);
        try {
            fs.writeSync(fd, recs.map((r) => JSON.stringify(r) + '\n').join(''));
            fs.fsyncSync(fd);
        } finally {
            fs.closeSync(fd);
        }
    }

    saveChain(chain: ChainFile): void {
        writeAtomic(this.chainFile, JSON.stringify(chain));
    }

    writeInfo(info: object): void {
        writeAtomic(this.infoFile, JSON.stringify(info, null, 2) + '\n');
    }

    readInfo(): Record<string, unknown> | undefined {
        try {
            return JSON.parse(fs.readFileSync(this.infoFile, 'utf8')) as Record<string, unknown>;
        } catch {
            return undefined;
        }
    }
}

function alive(pid: number): boolean {
    try {
        process.kill(pid, 0);
        return true;
    } catch (e) {
        return (e as NodeJS.ErrnoException).code === 'EPERM';
    }
}
