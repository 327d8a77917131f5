/**
 * Known wallet contracts, recognized by code hash as toncenter's getWalletInformation does,
 * with their seqno and wallet id read from the account's data.
 */

import type { Cell } from '@ton/core';
import { WalletContractV3R1, WalletContractV3R2, WalletContractV4, WalletContractV5R1 } from '@ton/ton';

/** What getWalletInformation adds for a known wallet. */
export type WalletDetails = { wallet_type: string; seqno: number; wallet_id: number };

type Kind = { type: string; read: (data: Cell) => { seqno: number; wallet_id: number } };

/** v3 and v4 data: seqno:uint32 wallet_id:uint32 public_key:bits256 ... */
function v3v4(data: Cell): { seqno: number; wallet_id: number } {
    const s = data.beginParse();
    return { seqno: s.loadUint(32), wallet_id: s.loadUint(32) };
}

/** v5r1 data: is_signature_allowed:bool seqno:uint32 wallet_id:uint32 public_key:bits256 ... */
function v5(data: Cell): { seqno: number; wallet_id: number } {
    const s = data.beginParse();
    s.loadBit();
    return { seqno: s.loadUint(32), wallet_id: s.loadUint(32) };
}

function codeHash(code: Cell): string {
    return code.hash().toString('hex');
}

const key = Buffer.alloc(32);
const KNOWN = new Map<string, Kind>([
    [codeHash(WalletContractV3R1.create({ workchain: 0, publicKey: key }).init.code), { type: 'wallet v3 r1', read: v3v4 }],
    [codeHash(WalletContractV3R2.create({ workchain: 0, publicKey: key }).init.code), { type: 'wallet v3 r2', read: v3v4 }],
    [codeHash(WalletContractV4.create({ workchain: 0, publicKey: key }).init.code), { type: 'wallet v4 r2', read: v3v4 }],
    [codeHash(WalletContractV5R1.create({ publicKey: key }).init.code), { type: 'wallet v5 r1', read: v5 }],
]);

/** The wallet details of an active account, or undefined if its code is no known wallet. */
export function walletDetails(code: Cell | undefined, data: Cell | undefined): WalletDetails | undefined {
    if (!code || !data) return undefined;
    const kind = KNOWN.get(codeHash(code));
    if (!kind) return undefined;
    try {
        return { wallet_type: kind.type, ...kind.read(data) };
    } catch {
        return undefined; // data that is not a wallet's after all
    }
}
