// Vouchers signed by the Rust crate (cocoon-voucher, ed25519-dalek) are accepted by the
// contracts, and its tampered, replayed, non-growing and misdirected ones refused.
// The vectors come from `cargo run -p cocoon-voucher --example vectors`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Address, Cell, beginCell, toNano } from '@ton/core';
import { Err, Op, State } from '../wrappers/ops';
import { ClientContract } from '../wrappers/contracts';
import { signVoucher } from '../wrappers/vouchers';
import { clientContract, expectAllOk, expectRefused, network, publicKeyOf, registerProxy, seedKeys, workerContract } from './net';
import { vectorTargets } from './vectors-targets';

const DIR = join(__dirname, 'vectors');
const targets = JSON.parse(readFileSync(join(DIR, 'targets.json'), 'utf-8'));
const vectors = JSON.parse(readFileSync(join(DIR, 'vouchers.json'), 'utf-8'));
const REGEN = 'run `npx tsx tests/vectors-targets.ts` in contracts/, then `cargo run -p cocoon-voucher --example vectors > contracts/tests/vectors/vouchers.json`';

interface Case { name: string; kind: string; query_id: number; tokens: number; contract: string; held_b64: string; body_b64: string }
const byName = (name: string): Case => {
    const c = vectors.cases.find((x: Case) => x.name === name);
    if (!c) throw new Error(`vector ${name} missing; ${REGEN}`);
    return c;
};
const body = (name: string) => Cell.fromBase64(byName(name).body_b64);

test('the vector targets are the addresses of the current contracts', async () => {
    const now = await vectorTargets();
    assert.deepEqual({ ...targets, comment: '' }, { ...now, comment: '' }, `contracts changed: ${REGEN}`);
    for (const c of vectors.cases as Case[]) {
        const expected = c.name.includes('other_contract') ? targets.other_client_contract : c.kind === 'worker_payout' ? targets.worker_contract : targets.client_contract;
        assert.equal(c.contract, expected, `${c.name} is for another contract than targets.json says; ${REGEN}`);
    }
});

test('the Rust crate derives the same public key and builds the body the contracts parse', () => {
    assert.equal(vectors.proxy_public_key_hex, seedKeys(0x42).publicKey.toString('hex'));
    for (const c of vectors.cases as Case[]) {
        // held = signature:bits512 ^payload; body = op query_id send_excesses_to signature ^payload
        const held = Cell.fromBase64(c.held_b64).beginParse();
        const signature = held.loadBuffer(64);
        const payload = held.loadRef();
        const p = payload.beginParse();
        const op = p.loadUint(32);
        assert.equal(p.loadUintBig(64), BigInt(c.query_id), c.name);
        const tokens = p.loadUintBig(64);
        assert.ok(p.loadAddress().equals(Address.parse(c.contract)), c.name);
        if (!c.name.includes('tampered')) assert.equal(tokens, BigInt(c.tokens), c.name);
        const rebuilt = beginCell().storeUint(op, 32).storeUint(BigInt(c.query_id), 64).storeAddress(Address.parse(targets.excesses_to))
            .storeBuffer(signature, 64).storeRef(payload).endCell();
        assert.ok(rebuilt.equals(Cell.fromBase64(c.body_b64)), `${c.name}: body differs from held voucher`);
    }
});

test('the client and worker contracts accept the Rust-signed vouchers and refuse the bad ones', async () => {
    const net = await network();
    const proxy = await registerProxy(net, 'proxy-op', seedKeys(0x42));
    const owner = await net.chain.treasury('client');
    const client = clientContract(net, proxy, owner.address);
    assert.equal(client.address.toRawString(), targets.client_contract);
    const submitter = await net.chain.treasury('submitter');
    await client.sendBody(owner.getSender(), toNano('1'), ClientContract.topUp());
    const send = (name: string) => client.sendBody(submitter.getSender(), toNano('0.1'), body(name));

    expectAllOk((await send('charge_100')).transactions);
    assert.equal((await client.getData()).tokensUsed, 100n);
    expectAllOk((await send('charge_250')).transactions);
    assert.equal((await client.getData()).tokensUsed, 250n);
    expectRefused((await send('charge_250')).transactions, client.address, Err.notGrowing); // replay
    expectRefused((await send('charge_200_stale')).transactions, client.address, Err.notGrowing);
    expectRefused((await send('charge_300_other_key')).transactions, client.address, Err.badSignature);
    expectRefused((await send('charge_300_tampered')).transactions, client.address, Err.badSignature);
    expectRefused((await send('charge_300_other_contract')).transactions, client.address, Err.wrongAddress);
    assert.equal((await client.getData()).tokensUsed, 250n);
    assert.equal((await proxy.contract.getData()).balance, 250n * net.params.pricePerToken);

    // Fund the proxy contract from another client so the worker vouchers can be paid.
    const other = clientContract(net, proxy, (await net.chain.treasury('big-client')).address);
    await other.sendBody(submitter.getSender(), toNano('1'), ClientContract.topUp());
    expectAllOk((await other.sendBody(submitter.getSender(), toNano('0.1'),
        signVoucher(proxy.keys.secretKey, Op.charge, 1n, 10_000n, other.address, null))).transactions);

    const worker = workerContract(net, proxy, (await net.chain.treasury('worker')).address);
    assert.equal(worker.address.toRawString(), targets.worker_contract);
    expectAllOk((await worker.sendBody(submitter.getSender(), toNano('0.1'), body('payout_1000'))).transactions);
    expectAllOk((await worker.sendBody(submitter.getSender(), toNano('0.1'), body('payout_2500'))).transactions);
    expectRefused((await worker.sendBody(submitter.getSender(), toNano('0.1'), body('payout_1000'))).transactions, worker.address, Err.notGrowing);
    assert.equal((await worker.getData()).tokens, 2500n);
    // A charge voucher is no payout, and a payout voucher is not for the client contract.
    expectRefused((await worker.sendBody(submitter.getSender(), toNano('0.1'), body('charge_100'))).transactions, worker.address, Err.unknownOp);

    expectAllOk((await send('grant_refund_400')).transactions);
    const d = await client.getData();
    assert.deepEqual([d.state, d.tokensUsed], [State.closed, 400n]);
    assert.equal(d.proxyPublicKey, publicKeyOf(proxy.keys));
});
