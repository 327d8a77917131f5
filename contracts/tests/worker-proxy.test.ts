// Worker and proxy contracts: payouts from what clients were charged, commission, anchors,
// closing; every refusal.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { beginCell, toNano } from '@ton/core';
import { Err, Op, State } from '../wrappers/ops';
import { ClientContract, ProxyContract } from '../wrappers/contracts';
import { signVoucher } from '../wrappers/vouchers';
import {
    balanceOf, clientContract, expectAllOk, expectRefused, network, received, registerProxy, seedKeys, workerContract,
} from './net';

async function setup() {
    const net = await network({ pricePerToken: 10n, workerFeePerToken: 7n, proxyDelayBeforeClose: 3600 });
    const proxy = await registerProxy(net);
    const clientOwner = await net.chain.treasury('client');
    const client = clientContract(net, proxy, clientOwner.address);
    await client.sendBody(clientOwner.getSender(), toNano('20'), ClientContract.topUp());
    const workerOwner = await net.chain.treasury('worker');
    const worker = workerContract(net, proxy, workerOwner.address);
    const submitter = await net.chain.treasury('submitter');
    const chargeTo = async (tokens: bigint, q: bigint) =>
        expectAllOk((await client.sendBody(submitter.getSender(), toNano('0.1'),
            signVoucher(proxy.keys.secretKey, Op.charge, q, tokens, client.address, submitter.address))).transactions);
    const payout = (tokens: bigint, q: bigint, keys = proxy.keys, excesses = submitter.address) =>
        signVoucher(keys.secretKey, Op.workerPayout, q, tokens, worker.address, excesses);
    return { net, proxy, client, clientOwner, worker, workerOwner, submitter, chargeTo, payout };
}

describe('worker contract', () => {
    test('a payout pays tokens x fee to the worker and tokens x (price - fee) to the commission', async () => {
        const { worker, workerOwner, submitter, proxy, chargeTo, payout } = await setup();
        await chargeTo(1_000_000n, 1n);
        // First payout deploys the worker contract.
        const r = await worker.sendBody(submitter.getSender(), toNano('0.1'), payout(600_000n, 2n));
        expectAllOk(r.transactions);
        assert.ok(received(r.transactions, workerOwner.address) >= 600_000n * 7n);
        assert.equal((await worker.getData()).tokens, 600_000n);
        const p = await proxy.contract.getData();
        assert.equal(p.balance, 10_000_000n - 6_000_000n);
        assert.equal(p.commission, 600_000n * 3n);
        // The excess went to the submitter, apart from the worker's pay.
        assert.ok(received(r.transactions, submitter.address) > 0n);
    });

    test('without an excess address the worker owner gets pay and change in one message', async () => {
        const { worker, workerOwner, submitter, proxy, chargeTo } = await setup();
        await chargeTo(1000n, 1n);
        const body = signVoucher(proxy.keys.secretKey, Op.workerPayout, 2n, 1000n, worker.address, null);
        const r = await worker.sendBody(submitter.getSender(), toNano('0.1'), body);
        expectAllOk(r.transactions);
        assert.ok(received(r.transactions, workerOwner.address) > 7000n + toNano('0.01'));
    });

    test('a payout above what clients were charged bounces and the tokens stay unpaid', async () => {
        const { worker, submitter, proxy, chargeTo, payout, net } = await setup();
        await chargeTo(100n, 1n);
        const r = await worker.sendBody(submitter.getSender(), toNano('0.1'), payout(101n, 2n));
        expectRefused(r.transactions, proxy.contract.address, Err.insufficient);
        assert.equal((await worker.getData()).tokens, 0n);
        // Now within what was charged: paid.
        expectAllOk((await worker.sendBody(submitter.getSender(), toNano('0.1'), payout(100n, 3n))).transactions);
        assert.equal((await worker.getData()).tokens, 100n);
        assert.equal((await proxy.contract.getData()).balance, 0n);
        assert.ok((await balanceOf(net, worker.address)) >= 0n);
    });

    test('a forged bounce (not from the proxy contract) does not make tokens unpaid again', async () => {
        const { worker, submitter, chargeTo, payout, net } = await setup();
        await chargeTo(10_000n, 1n);
        expectAllOk((await worker.sendBody(submitter.getSender(), toNano('0.1'), payout(1000n, 2n))).transactions);
        const { internal } = await import('@ton/sandbox');
        const body = beginCell().storeUint(0xffffffff, 32).storeUint(Op.payoutRequest, 32).storeUint(1000, 64).endCell();
        await net.chain.sendMessage(internal({ from: submitter.address, to: worker.address, value: toNano('0.1'), body, bounced: true }));
        assert.equal((await worker.getData()).tokens, 1000n);
    });

    test('payouts refuse bad signatures, stale tokens, other contracts and low gas', async () => {
        const { worker, submitter, proxy, chargeTo, payout, client } = await setup();
        await chargeTo(10_000n, 1n);
        expectAllOk((await worker.sendBody(submitter.getSender(), toNano('0.1'), payout(100n, 2n))).transactions);
        expectRefused((await worker.sendBody(submitter.getSender(), toNano('0.1'), payout(100n, 3n))).transactions, worker.address, Err.notGrowing);
        expectRefused((await worker.sendBody(submitter.getSender(), toNano('0.1'), payout(200n, 4n, seedKeys(9)))).transactions, worker.address, Err.badSignature);
        const forClient = signVoucher(proxy.keys.secretKey, Op.workerPayout, 5n, 200n, client.address, null);
        expectRefused((await worker.sendBody(submitter.getSender(), toNano('0.1'), forClient)).transactions, worker.address, Err.wrongAddress);
        expectRefused((await worker.sendBody(submitter.getSender(), toNano('0.01'), payout(200n, 6n))).transactions, worker.address, Err.lowValue);
        assert.equal((await worker.getData()).tokens, 100n);
    });

    test('the proxy contract refuses a payout request from anyone but a real worker contract', async () => {
        const { proxy, submitter, chargeTo } = await setup();
        await chargeTo(10_000n, 1n);
        const fake = beginCell().storeUint(Op.payoutRequest, 32).storeUint(10_000, 64).storeUint(0, 64)
            .storeAddress(submitter.address).storeAddress(null).endCell();
        expectRefused((await proxy.contract.sendBody(submitter.getSender(), toNano('0.1'), fake)).transactions,
            proxy.contract.address, Err.wrongSender);
        assert.equal((await proxy.contract.getData()).balance, 100_000n);
    });
});

describe('proxy contract', () => {
    test('commission: the owner withdraws what it earned, not more, not anyone else', async () => {
        const { worker, submitter, proxy, chargeTo, payout } = await setup();
        await chargeTo(1_000_000n, 1n);
        await worker.sendBody(submitter.getSender(), toNano('0.1'), payout(1_000_000n, 2n));
        const { commission } = await proxy.contract.getData();
        assert.equal(commission, 3_000_000n);
        expectRefused((await proxy.contract.sendBody(proxy.operator.getSender(), toNano('0.05'),
            ProxyContract.withdrawCommission(commission + 1n))).transactions, proxy.contract.address, Err.insufficient);
        expectRefused((await proxy.contract.sendBody(submitter.getSender(), toNano('0.05'),
            ProxyContract.withdrawCommission(1n))).transactions, proxy.contract.address, Err.wrongSender);
        const r = await proxy.contract.sendBody(proxy.operator.getSender(), toNano('0.05'), ProxyContract.withdrawCommission(commission));
        expectAllOk(r.transactions);
        assert.ok(received(r.transactions, proxy.operator.address) >= commission);
        const p = await proxy.contract.getData();
        assert.equal(p.commission, 0n);
        assert.equal(p.stake, toNano('10'));
    });

    test('anchors: the owner saves (seqno, session hash); seqno must grow', async () => {
        const { proxy, submitter, net } = await setup();
        expectAllOk((await proxy.contract.sendBody(proxy.operator.getSender(), toNano('0.02'), ProxyContract.saveState(5, 0xabcn))).transactions);
        const a = await proxy.contract.getAnchor();
        assert.deepEqual(a, { seqno: 5, sessionHash: 0xabcn, savedAt: net.chain.now });
        expectRefused((await proxy.contract.sendBody(proxy.operator.getSender(), toNano('0.02'), ProxyContract.saveState(5, 0xdefn))).transactions,
            proxy.contract.address, Err.staleAnchor);
        expectRefused((await proxy.contract.sendBody(submitter.getSender(), toNano('0.02'), ProxyContract.saveState(6, 0xdefn))).transactions,
            proxy.contract.address, Err.wrongSender);
        assert.equal((await proxy.contract.getAnchor()).sessionHash, 0xabcn);
    });

    test('stake increases from the owner only', async () => {
        const { proxy, submitter } = await setup();
        expectAllOk((await proxy.contract.sendBody(proxy.operator.getSender(), toNano('5'), ProxyContract.increaseStake())).transactions);
        assert.equal((await proxy.contract.getData()).stake, toNano('15') - toNano('0.01'));
        expectRefused((await proxy.contract.sendBody(submitter.getSender(), toNano('5'), ProxyContract.increaseStake())).transactions,
            proxy.contract.address, Err.wrongSender);
    });

    test('close: delisted at once, stake back after the delay, then everything refused', async () => {
        const { net, proxy, client, submitter, worker, payout, chargeTo } = await setup();
        await chargeTo(1000n, 1n);
        assert.equal((await net.root.getProxies()).size, 1);
        expectRefused((await proxy.contract.sendBody(proxy.operator.getSender(), toNano('0.05'), ProxyContract.finishClose())).transactions,
            proxy.contract.address, Err.wrongState);
        expectRefused((await proxy.contract.sendBody(submitter.getSender(), toNano('0.05'), ProxyContract.startClose())).transactions,
            proxy.contract.address, Err.wrongSender);
        expectAllOk((await proxy.contract.sendBody(proxy.operator.getSender(), toNano('0.05'), ProxyContract.startClose())).transactions);
        assert.equal((await net.root.getProxies()).size, 0);
        assert.equal((await net.root.getRootData()).proxyCount, 0);
        assert.equal((await proxy.contract.getData()).state, State.closing);
        // While closing, workers can still be paid.
        expectAllOk((await worker.sendBody(submitter.getSender(), toNano('0.1'), payout(500n, 2n))).transactions);
        expectRefused((await proxy.contract.sendBody(proxy.operator.getSender(), toNano('0.05'), ProxyContract.finishClose())).transactions,
            proxy.contract.address, Err.tooEarly);
        net.chain.now = (await proxy.contract.getData()).unlockTime;
        const held = await balanceOf(net, proxy.contract.address);
        const r = await proxy.contract.sendBody(proxy.operator.getSender(), toNano('0.05'), ProxyContract.finishClose());
        expectAllOk(r.transactions);
        assert.ok(received(r.transactions, proxy.operator.address) >= held);
        assert.equal(await balanceOf(net, proxy.contract.address), 0n);
        assert.equal((await proxy.contract.getData()).state, State.closed);
        // A charge now bounces back: the client's tokens and money are restored.
        const before = await client.getData();
        await client.sendBody(submitter.getSender(), toNano('0.1'),
            signVoucher(proxy.keys.secretKey, Op.charge, 3n, 2000n, client.address, submitter.address));
        const after = await client.getData();
        assert.equal(after.tokensUsed, before.tokensUsed);
        assert.equal(after.balance, before.balance);
        // A payout bounces too, and the worker's tokens stay unpaid.
        await worker.sendBody(submitter.getSender(), toNano('0.1'), payout(600n, 4n));
        assert.equal((await worker.getData()).tokens, 500n);
        for (const body of [ProxyContract.withdrawCommission(1n), ProxyContract.saveState(9, 1n), ProxyContract.increaseStake(), ProxyContract.startClose()]) {
            expectRefused((await proxy.contract.sendBody(proxy.operator.getSender(), toNano('0.1'), body)).transactions,
                proxy.contract.address, Err.wrongState);
        }
    });

    test('ProxyInit only from the root', async () => {
        const { proxy, submitter } = await setup();
        const body = beginCell().storeUint(Op.proxyInit, 32).storeCoins(toNano('100')).storeUint(0, 64).endCell();
        expectRefused((await proxy.contract.sendBody(submitter.getSender(), toNano('1'), body)).transactions, proxy.contract.address, Err.wrongSender);
        assert.equal((await proxy.contract.getData()).stake, toNano('10'));
    });

    test('the worker contract address the proxy contract computes matches the off-chain one', async () => {
        const { proxy, worker, workerOwner } = await setup();
        assert.ok((await proxy.contract.getWorkerAddress(workerOwner.address)).equals(worker.address));
    });
});
