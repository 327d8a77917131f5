/**
 * The devnet faucet: real devnet coins from a sandbox treasury, for testing only. Coins on a
 * devnet are worthless; every answer says so.
 */

import { Address, toNano } from '@ton/core';
import type { Blockchain } from '@ton/sandbox';
import type { Chain } from './chain';
import { badRequest } from './errors';

/** The loud line every devnet-only answer and banner carries. */
export const DEVNET_WARNING = 'DEVNET: local emulator, not a real chain, coins are worthless';

/** Most a single faucet call pays. */
export const FAUCET_CAP = toNano('1000');

/** Treasury seeds: deterministic sandbox wallets, the same address on every devnet. */
export const FAUCET_SEED = 'cocoon-devnet-faucet';
export const GOVERNANCE_SEED = 'cocoon-devnet-governance';

/** Below this the faucet's treasury is refilled (it is the emulator's own money). */
const REFILL_BELOW = toNano('100000');
const REFILL_TO = toNano('1000000');

/** The faucet's treasury address. */
export async function faucetAddress(bc: Blockchain): Promise<Address> {
    return (await bc.treasury(FAUCET_SEED, { predeploy: false })).address;
}

/** Parses a faucet amount: nanotons as a decimal string (or a safe integer), 1..FAUCET_CAP. */
export function parseAmount(v: unknown): bigint {
    let n: bigint;
    if (typeof v === 'string' && /^\d+$/.test(v.trim())) n = BigInt(v.trim());
    else if (typeof v === 'number' && Number.isSafeInteger(v)) n = BigInt(v);
    else throw badRequest('amount: expected nanotons as a decimal string, e.g. "5000000000" for 5 TON');
    if (n <= 0n) throw badRequest('amount: must be positive');
    if (n > FAUCET_CAP) throw badRequest(`amount: at most ${FAUCET_CAP} nanotons (1000 TON) per call`);
    return n;
}

/** Pays `amount` to `to` (bounce off, so an empty account keeps it) as one batch. */
export async function pay(chain: Chain, to: Address, amount: bigint): Promise<{ seqno: number; lt: bigint; hash: Buffer }> {
    const res = await chain.apply(async (bc) => {
        const treasury = await bc.treasury(FAUCET_SEED);
        const contract = await bc.getContract(treasury.address);
        if (contract.balance < REFILL_BELOW + amount) contract.balance = REFILL_TO;
        await treasury.send({ to, value: amount, bounce: false });
    });
    const received = res.transactions.find((tx) => tx.inMessage?.info.type === 'internal' && tx.inMessage.info.dest.equals(to));
    if (!received) throw new Error('the faucet payment produced no transaction at the destination');
    return { seqno: res.seqno, lt: received.lt, hash: received.hash() };
}
