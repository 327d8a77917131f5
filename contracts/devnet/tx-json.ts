/**
 * Transactions as toncenter's v2 `raw.transaction` JSON: what getTransactions returns.
 *
 * Hashes are base64 (as toncenter serves them), amounts are decimal strings, addresses are
 * user-friendly bounceable, and `data` is the transaction's own BOC, so `loadTransaction`
 * on it gives back exactly what the emulator produced. Message hashes are of the exact
 * message cells inside the transaction, not of a re-serialization.
 */

import {
    Address,
    beginCell,
    Cell,
    Dictionary,
    loadMessage,
    storeStateInit,
    type Message,
    type Transaction,
} from '@ton/core';

/** toncenter's `internal.transactionId`. */
export type TransactionId = { '@type': 'internal.transactionId'; lt: string; hash: string };

/** The id of a transaction, or toncenter's all-zero id for an account without one. */
export function transactionId(lt: bigint, hash: Buffer): TransactionId {
    return { '@type': 'internal.transactionId', lt: lt.toString(), hash: hash.toString('base64') };
}

/** The id toncenter gives an account that has no transaction yet. */
export const NO_TRANSACTION: TransactionId = transactionId(0n, Buffer.alloc(32));

/** A user-friendly address as toncenter renders it (bounceable, url-safe). */
export function friendly(address: Address): string {
    return address.toString({ bounceable: true, urlSafe: true });
}

function boc(cell: Cell): string {
    return cell.toBoc({ idx: false }).toString('base64');
}

/** The exact cells of a transaction's inbound and outbound messages (outbound in order). */
function messageCells(tx: Transaction): { inCell?: Cell; outCells: Cell[] } {
    const s = tx.raw.refs[0].beginParse();
    const inCell = s.loadBit() ? s.loadRef() : undefined;
    const dict = s.loadDict(Dictionary.Keys.Uint(15), Dictionary.Values.Cell());
    const outCells = dict
        .keys()
        .sort((a, b) => a - b)
        .map((k) => dict.get(k)!);
    return { inCell, outCells };
}

/** A text comment's text (op 0 then UTF-8 in a snake of cells), or undefined. */
function commentText(body: Cell): string | undefined {
    try {
        const s = body.beginParse();
        if (s.remainingBits < 32 || s.loadUint(32) !== 0) return undefined;
        const text = s.loadStringTail();
        return text.includes('\uFFFD') ? undefined : text;
    } catch {
        return undefined;
    }
}

/** toncenter's `raw.message`. */
export function messageJson(msg: Message, cell: Cell): object {
    const info = msg.info;
    const source = info.type === 'external-in' ? '' : friendly(info.src);
    const destination = info.type === 'external-out' ? '' : friendly(info.dest);
    const value = info.type === 'internal' ? info.value.coins : 0n;
    const fwdFee = info.type === 'internal' ? info.forwardFee : 0n;
    const ihrFee = info.type === 'internal' ? info.ihrFee : 0n;
    const createdLt = info.type === 'external-in' ? 0n : info.createdLt;
    const text = commentText(msg.body);
    // pytonlib's `message` for a raw body is the base64 of the root cell's data bytes;
    // for a text comment we give the text itself, which is what people look for there.
    const bits = msg.body.bits;
    const dataBytes = bits.length % 8 === 0 ? bits.subbuffer(0, bits.length) : null;
    return {
        '@type': 'raw.message',
        hash: cell.hash().toString('base64'),
        source,
        destination,
        value: value.toString(),
        extra_currencies: [],
        fwd_fee: fwdFee.toString(),
        ihr_fee: ihrFee.toString(),
        created_lt: createdLt.toString(),
        body_hash: msg.body.hash().toString('base64'),
        msg_data: {
            '@type': 'msg.dataRaw',
            body: boc(msg.body),
            // StateInit serialization is canonical: inline or by reference, the cell is the same.
            init_state: msg.init ? boc(beginCell().store(storeStateInit(msg.init)).endCell()) : '',
        },
        message: text ?? (dataBytes ? dataBytes.toString('base64') : ''),
    };
}

/** Fees of a transaction split as toncenter does: storage and the rest. */
function fees(tx: Transaction): { fee: bigint; storage: bigint } {
    const d = tx.description;
    const storage = 'storagePhase' in d && d.storagePhase ? d.storagePhase.storageFeesCollected : 0n;
    return { fee: tx.totalFees.coins, storage };
}

/** toncenter's `raw.transaction` for a transaction of `account`. */
export function transactionJson(account: Address, tx: Transaction): object {
    const { inCell, outCells } = messageCells(tx);
    const { fee, storage } = fees(tx);
    const outMsgs = outCells.map((c) => messageJson(loadMessage(c.beginParse()), c));
    return {
        '@type': 'raw.transaction',
        address: { '@type': 'accountAddress', account_address: friendly(account) },
        utime: tx.now,
        data: boc(tx.raw),
        transaction_id: transactionId(tx.lt, tx.hash()),
        fee: fee.toString(),
        storage_fee: storage.toString(),
        other_fee: (fee - storage).toString(),
        in_msg: inCell ? messageJson(tx.inMessage!, inCell) : undefined,
        out_msgs: outMsgs,
    };
}
