// Proxy-signed vouchers in TypeScript, the same layout as the Rust crate `cocoon-voucher`
// (tests sign their own to explore sequences; the Rust vectors prove the two agree).
import { Address, Cell, beginCell } from '@ton/core';
import { sign } from '@ton/crypto';

/** The signed payload: op, query id, cumulative tokens, the contract it is for. */
export function payloadCell(op: number, queryId: bigint, newTokens: bigint, contract: Address): Cell {
    return beginCell().storeUint(op, 32).storeUint(queryId, 64).storeUint(newTokens, 64).storeAddress(contract).endCell();
}

/** The message body a submitter sends: op, query id, excess address, signature, ^payload. */
export function signedBody(op: number, queryId: bigint, payload: Cell, signature: Buffer, sendExcessesTo: Address | null): Cell {
    return beginCell()
        .storeUint(op, 32)
        .storeUint(queryId, 64)
        .storeAddress(sendExcessesTo)
        .storeBuffer(signature, 64)
        .storeRef(payload)
        .endCell();
}

/** Signs a payload with an Ed25519 secret key (64 bytes, as @ton/crypto's keyPairFromSeed gives). */
export function signVoucher(
    secretKey: Buffer, op: number, queryId: bigint, newTokens: bigint, contract: Address, sendExcessesTo: Address | null,
): Cell {
    const payload = payloadCell(op, queryId, newTokens, contract);
    return signedBody(op, queryId, payload, sign(payload.hash(), secretKey), sendExcessesTo);
}
