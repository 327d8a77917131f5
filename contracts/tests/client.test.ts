// Client contract: every operation's happy path and every refusal, in TON's emulator.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { toNano } from '@ton/core';
import { Err, Gas, Op, State } from '../wrappers/ops';
import { ClientContract } from '../wrappers/contracts';
import { signVoucher } from '../wrappers/vouchers';
import {
    balanceOf, clientContract, expectAllOk, expectRefused, network, publicKeyOf, received, registerProxy, seedKeys, txOn,
} from './net';

async function setup() {
    const net = await network();
    const proxy = await registerProxy(net);
    const owner = await net.chain.treasury('client');
    const client = clientContract(net, proxy, owner.address);
    // Deploy with a first top-up of 5 TON, then stake 1 TON.
    expectAllOk((await client.sendBody(owner.getSender(), toNano('5'), ClientContract.topUp())).transactions);
    expectAllOk((await client.sendBody(owner.getSender(), toNano('1'), ClientContract.increaseStake())).transactions);
    const stranger = await net.chain.treasury('stranger');
    const charge = (tokens: bigint, q = 1n, keys = proxy.keys, op = Op.charge, to = client.address) =>
        signVoucher(keys.secretKey, op, q, tokens, to, stranger.address);
    return { net, proxy, owner, client, stranger, charge };
}

describe('client contract', () => {
    test('top-up by anyone credits the value minus the deposit fee; stake from the owner', async () => {
        const { client, stranger } = await setup();
        let d = await client.getData();
        assert.equal(d.balance, toNano('5') - Gas.depositFee);
        assert.equal(d.stake, toNano('1') - Gas.depositFee);
        await client.sendBody(stranger.getSender(), toNano('2'), ClientContract.topUp());
        d = await client.getData();
        assert.equal(d.balance, toNano('7') - 2n * Gas.depositFee);
    });

    test('stake only from the owner', async () => {
        const { client, stranger } = await setup();
        const r = await client.sendBody(stranger.getSender(), toNano('1'), ClientContract.increaseStake());
        expectRefused(r.transactions, client.address, Err.wrongSender);
    });

    test('a top-up too small for its fee is refused', async () => {
        const { client, stranger } = await setup();
        const r = await client.sendBody(stranger.getSender(), Gas.depositFee, ClientContract.topUp());
        expectRefused(r.transactions, client.address, Err.lowValue);
    });

    test('withdraw pays the owner; never into the stake; owner only; needs gas', async () => {
        const { net, client, owner, stranger } = await setup();
        const before = await client.getData();
        const r = await client.sendBody(owner.getSender(), toNano('0.05'), ClientContract.withdraw(toNano('2')));
        expectAllOk(r.transactions);
        assert.ok(received(r.transactions, owner.address) >= toNano('2'));
        const after = await client.getData();
        assert.equal(after.balance, before.balance - toNano('2'));
        assert.equal(after.stake, before.stake);
        // The contract holds at least what it owes.
        assert.ok((await balanceOf(net, client.address)) >= after.balance + after.stake);

        expectRefused((await client.sendBody(owner.getSender(), toNano('0.05'), ClientContract.withdraw(after.balance + 1n))).transactions,
            client.address, Err.insufficient);
        expectRefused((await client.sendBody(stranger.getSender(), toNano('0.05'), ClientContract.withdraw(1n))).transactions,
            client.address, Err.wrongSender);
        expectRefused((await client.sendBody(owner.getSender(), toNano('0.01'), ClientContract.withdraw(1n))).transactions,
            client.address, Err.lowValue);
        expectRefused((await client.sendBody(owner.getSender(), toNano('0.05'), ClientContract.withdraw(0n))).transactions,
            client.address, Err.zeroAmount);
    });

    test('a signed charge moves tokens x price to the proxy contract; anyone may submit', async () => {
        const { client, proxy, stranger, charge } = await setup();
        const before = await client.getData();
        const r = await client.sendBody(stranger.getSender(), toNano('0.1'), charge(1_000_000n));
        expectAllOk(r.transactions);
        const after = await client.getData();
        assert.equal(after.tokensUsed, 1_000_000n);
        assert.equal(after.balance, before.balance - 2_000_000n);
        const p = await proxy.contract.getData();
        assert.equal(p.balance, 2_000_000n);
        // The excess comes back to the submitter.
        assert.ok(received(r.transactions, stranger.address) > 0n);
    });

    test('charges refuse bad signatures, tampering, replays, other contracts, mixed ops, low gas', async () => {
        const { net, client, stranger, charge, owner, proxy } = await setup();
        const send = (body: ReturnType<typeof charge>, value = toNano('0.1')) => client.sendBody(stranger.getSender(), value, body);
        expectAllOk((await send(charge(100n, 1n))).transactions);
        expectRefused((await send(charge(100n, 2n))).transactions, client.address, Err.notGrowing);
        expectRefused((await send(charge(50n, 3n))).transactions, client.address, Err.notGrowing);
        expectRefused((await send(charge(200n, 4n, seedKeys(7)))).transactions, client.address, Err.badSignature);
        // A voucher for another client's contract.
        const other = clientContract(net, proxy, (await net.chain.treasury('other')).address);
        expectRefused((await send(charge(200n, 5n, proxy.keys, Op.charge, other.address))).transactions, client.address, Err.wrongAddress);
        // Tampered: the outer query id differs from the signed one.
        const good = charge(300n, 6n).beginParse();
        good.loadUint(32); good.loadUint(64);
        const { beginCell } = await import('@ton/core');
        const tampered = beginCell().storeUint(Op.charge, 32).storeUint(99n, 64).storeSlice(good).endCell();
        expectRefused((await send(tampered)).transactions, client.address, Err.opMismatch);
        // A worker payout voucher presented as a charge.
        const mixed = signVoucher(proxy.keys.secretKey, Op.workerPayout, 7n, 300n, client.address, null);
        const asCharge = beginCell().storeUint(Op.charge, 32).storeSlice(mixed.beginParse().skip(32)).endCell();
        expectRefused((await send(asCharge)).transactions, client.address, Err.opMismatch);
        expectRefused((await send(charge(300n, 8n), toNano('0.04'))).transactions, client.address, Err.lowValue);
        // Nothing moved.
        assert.equal((await client.getData()).tokensUsed, 100n);
        void owner;
    });

    test('a charge beyond the balance takes the stake, then counts the rest unpaid', async () => {
        const { client, proxy, stranger, charge } = await setup();
        const d = await client.getData();
        const all = d.balance + d.stake;
        const tokens = all / 2n + 1000n; // costs 2 nanotons each: more than everything
        expectAllOk((await client.sendBody(stranger.getSender(), toNano('0.1'), charge(tokens))).transactions);
        const after = await client.getData();
        assert.equal(after.balance, 0n);
        assert.equal(after.stake, 0n);
        assert.equal(after.tokensUsed, tokens);
        assert.equal((await proxy.contract.getData()).balance, all);
    });

    test('close: request, then the proxy grants the refund with a final charge', async () => {
        const { client, owner, stranger, charge, proxy } = await setup();
        expectAllOk((await client.sendBody(owner.getSender(), toNano('0.05'), ClientContract.requestRefund())).transactions);
        let d = await client.getData();
        assert.equal(d.state, State.closing);
        // No top-ups or withdrawals while closing.
        expectRefused((await client.sendBody(owner.getSender(), toNano('1'), ClientContract.topUp())).transactions, client.address, Err.wrongState);
        expectRefused((await client.sendBody(owner.getSender(), toNano('0.05'), ClientContract.withdraw(1n))).transactions, client.address, Err.wrongState);
        const held = d.balance + d.stake;
        const r = await client.sendBody(stranger.getSender(), toNano('0.1'), charge(500n, 9n, proxy.keys, Op.grantRefund));
        expectAllOk(r.transactions);
        d = await client.getData();
        assert.equal(d.state, State.closed);
        assert.equal(d.tokensUsed, 500n);
        assert.ok(received(r.transactions, owner.address) >= held - 1000n);
        assert.equal((await proxy.contract.getData()).balance, 1000n);
    });

    test('force refund only after the delay; the owner gets balance and stake', async () => {
        const { net, client, owner, stranger } = await setup();
        const early = await client.sendBody(owner.getSender(), toNano('0.05'), ClientContract.forceRefund());
        expectRefused(early.transactions, client.address, Err.wrongState);
        expectRefused((await client.sendBody(stranger.getSender(), toNano('0.05'), ClientContract.requestRefund())).transactions,
            client.address, Err.wrongSender);
        await client.sendBody(owner.getSender(), toNano('0.05'), ClientContract.requestRefund());
        const d = await client.getData();
        expectRefused((await client.sendBody(stranger.getSender(), toNano('0.05'), ClientContract.forceRefund())).transactions,
            client.address, Err.tooEarly);
        net.chain.now = d.unlockTime;
        const r = await client.sendBody(stranger.getSender(), toNano('0.05'), ClientContract.forceRefund());
        expectAllOk(r.transactions);
        assert.ok(received(r.transactions, owner.address) >= d.balance + d.stake);
        assert.equal((await client.getData()).state, State.closed);
        assert.equal(await balanceOf(net, client.address), 0n);
    });

    test('a closed contract refuses everything', async () => {
        const { net, client, owner, stranger, charge, proxy } = await setup();
        await client.sendBody(stranger.getSender(), toNano('0.1'), charge(10n, 1n, proxy.keys, Op.grantRefund));
        assert.equal((await client.getData()).state, State.closed);
        for (const body of [ClientContract.topUp(), ClientContract.increaseStake(), ClientContract.withdraw(1n),
            ClientContract.requestRefund(), ClientContract.forceRefund(), charge(20n, 2n), charge(30n, 3n, proxy.keys, Op.grantRefund)]) {
            const r = await client.sendBody(owner.getSender(), toNano('1'), body);
            expectRefused(r.transactions, client.address, Err.wrongState);
        }
        // Refused messages bounce their value back: the contract keeps nothing.
        assert.equal(await balanceOf(net, client.address), 0n);
    });

    test('plain transfers and unknown ops are refused', async () => {
        const { client, stranger } = await setup();
        const { beginCell, Cell } = await import('@ton/core');
        expectRefused((await client.sendBody(stranger.getSender(), toNano('1'), Cell.EMPTY)).transactions, client.address, Err.unknownOp);
        expectRefused((await client.sendBody(stranger.getSender(), toNano('1'), beginCell().storeUint(0xdeadbeef, 32).endCell())).transactions,
            client.address, Err.unknownOp);
    });

    test('the proxy contract refuses a charge notification from anyone but a real client contract', async () => {
        const { proxy, stranger } = await setup();
        const { beginCell } = await import('@ton/core');
        const fake = beginCell().storeUint(Op.chargeNotification, 32).storeUint(1000, 64).storeUint(1000, 64).storeUint(0, 64)
            .storeAddress(stranger.address).storeAddress(null).endCell();
        const r = await proxy.contract.sendBody(stranger.getSender(), toNano('1'), fake);
        expectRefused(r.transactions, proxy.contract.address, Err.wrongSender);
        assert.equal((await proxy.contract.getData()).balance, 0n);
    });

    test('a forged bounce (not from the proxy contract) restores nothing', async () => {
        const { net, client, stranger, charge } = await setup();
        expectAllOk((await client.sendBody(stranger.getSender(), toNano('0.1'), charge(100n))).transactions);
        const before = await client.getData();
        const { beginCell } = await import('@ton/core');
        const { internal } = await import('@ton/sandbox');
        const body = beginCell().storeUint(0xffffffff, 32).storeUint(Op.chargeNotification, 32).storeUint(100, 64)
            .storeUint(toNano('100'), 64).endCell();
        await net.chain.sendMessage(internal({ from: stranger.address, to: client.address, value: toNano('0.1'), body, bounced: true }));
        const after = await client.getData();
        assert.deepEqual([after.tokensUsed, after.balance, after.stake], [before.tokensUsed, before.balance, before.stake]);
    });

    test('the client contract address the proxy contract computes matches the off-chain one', async () => {
        const { proxy, owner, client } = await setup();
        assert.ok((await proxy.contract.getClientAddress(owner.address)).equals(client.address));
        assert.equal((await client.getData()).proxyPublicKey, publicKeyOf(proxy.keys));
        void txOn;
    });
});
