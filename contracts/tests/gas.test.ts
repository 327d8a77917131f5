// Gas and fees of every operation, end to end (all transactions a message causes). Checks that
// the value each operation must carry covers what it costs, and prints the table that
// docs/CONTRACTS.md shows.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { toNano } from '@ton/core';
import { BlockchainTransaction } from '@ton/sandbox';
import { Gas, Op } from '../wrappers/ops';
import { ClientContract, ProxyContract } from '../wrappers/contracts';
import { signVoucher } from '../wrappers/vouchers';
import { clientContract, expectAllOk, network, outcome, registerProxy, workerContract } from './net';

interface Row { op: string; txs: number; gas: bigint; fees: bigint; required: bigint }

function measure(op: string, txs: BlockchainTransaction[], required: bigint): Row {
    expectAllOk(txs);
    let gas = 0n, fees = 0n;
    // The first transaction is the sender's wallet; the operation starts at the contract.
    for (const t of txs.slice(1)) {
        gas += outcome(t).gasUsed;
        fees += t.totalFees.coins;
        if (t.inMessage?.info.type === 'internal') fees += t.inMessage.info.forwardFee;
    }
    return { op, txs: txs.length - 1, gas, fees, required };
}

test('gas table: every operation costs less than the value it must carry', async () => {
    const net = await network({ clientDelayBeforeClose: 10, proxyDelayBeforeClose: 10 });
    const rows: Row[] = [];
    const operator = await net.chain.treasury('op');
    const { publicKeyOf, seedKeys } = await import('./net');
    const keys = seedKeys(0x42);
    rows.push(measure('root: register proxy (deploys its contract)', (await net.root.sendRegisterProxy(operator.getSender(), toNano('10.1'), {
        publicKey: publicKeyOf(keys), stake: toNano('10'), clientEndpoint: '203.0.113.7:8888', workerEndpoint: '203.0.113.7:8889',
    })).transactions, Gas.register));
    const proxy = await registerProxy(net);
    const alice = await net.chain.treasury('alice');
    const gpu = await net.chain.treasury('gpu');
    const c = clientContract(net, proxy, alice.address);
    const w = workerContract(net, proxy, gpu.address);
    const sign = (op: number, q: bigint, t: bigint, to = c.address) => signVoucher(proxy.keys.secretKey, op, q, t, to, alice.address);
    rows.push(measure('client: first top-up (deploys)', (await c.sendBody(alice.getSender(), toNano('5'), ClientContract.topUp())).transactions, Gas.depositFee));
    rows.push(measure('client: top-up', (await c.sendBody(alice.getSender(), toNano('1'), ClientContract.topUp())).transactions, Gas.depositFee));
    rows.push(measure('client: increase stake', (await c.sendBody(alice.getSender(), toNano('1'), ClientContract.increaseStake())).transactions, Gas.depositFee));
    rows.push(measure('client: withdraw', (await c.sendBody(alice.getSender(), toNano('0.05'), ClientContract.withdraw(toNano('0.5')))).transactions, Gas.simpleOp));
    rows.push(measure('client: signed charge (-> proxy contract)', (await c.sendBody(alice.getSender(), toNano('0.1'), sign(Op.charge, 1n, 100_000_000n))).transactions, Gas.signedOp));
    rows.push(measure('worker: first signed payout (deploys; -> proxy -> owner)', (await w.sendBody(gpu.getSender(), toNano('0.1'), sign(Op.workerPayout, 2n, 50_000_000n, w.address))).transactions, Gas.signedOp));
    rows.push(measure('worker: signed payout', (await w.sendBody(gpu.getSender(), toNano('0.1'), sign(Op.workerPayout, 3n, 90_000_000n, w.address))).transactions, Gas.signedOp));
    rows.push(measure('proxy: save anchor', (await proxy.contract.sendBody(proxy.operator.getSender(), toNano('0.02'), ProxyContract.saveState(1, 7n))).transactions, 0n));
    rows.push(measure('proxy: withdraw commission', (await proxy.contract.sendBody(proxy.operator.getSender(), toNano('0.05'), ProxyContract.withdrawCommission(1000n))).transactions, Gas.simpleOp));
    rows.push(measure('proxy: increase stake', (await proxy.contract.sendBody(proxy.operator.getSender(), toNano('1'), ProxyContract.increaseStake())).transactions, Gas.depositFee));
    rows.push(measure('client: request refund', (await c.sendBody(alice.getSender(), toNano('0.05'), ClientContract.requestRefund())).transactions, Gas.simpleOp));
    rows.push(measure('client: signed grant refund (final charge, pays owner)', (await c.sendBody(alice.getSender(), toNano('0.1'), sign(Op.grantRefund, 4n, 110_000_000n))).transactions, Gas.signedOp));
    const bob = await net.chain.treasury('bob');
    const cb = clientContract(net, proxy, bob.address);
    await cb.sendBody(bob.getSender(), toNano('1'), ClientContract.topUp());
    await cb.sendBody(bob.getSender(), toNano('0.05'), ClientContract.requestRefund());
    net.chain.now = net.chain.now! + 10;
    rows.push(measure('client: force refund', (await cb.sendBody(bob.getSender(), toNano('0.05'), ClientContract.forceRefund())).transactions, Gas.simpleOp));
    rows.push(measure('proxy: start close (-> root delists)', (await proxy.contract.sendBody(proxy.operator.getSender(), toNano('0.05'), ProxyContract.startClose())).transactions, Gas.simpleOp));
    net.chain.now = net.chain.now! + 10;
    rows.push(measure('proxy: finish close', (await proxy.contract.sendBody(proxy.operator.getSender(), toNano('0.05'), ProxyContract.finishClose())).transactions, Gas.simpleOp));
    rows.push(measure('root: update allowlist', (await net.root.sendUpdateAllowlist(net.owner.getSender(), toNano('0.05'), 3, 5n, true)).transactions, 0n));
    rows.push(measure('root: update params', (await net.root.sendUpdateParams(net.owner.getSender(), toNano('0.05'), net.params)).transactions, 0n));

    const ton = (n: bigint) => (Number(n) / 1e9).toFixed(6);
    const lines = ['| operation | transactions | gas units | fees (TON) | must attach (TON) |', '|---|---:|---:|---:|---:|'];
    for (const r of rows) {
        lines.push(`| ${r.op} | ${r.txs} | ${r.gas} | ${ton(r.fees)} | ${r.required ? ton(r.required) : '-'} |`);
        // Deposits keep a fixed fee; everything else must carry more than it costs.
        if (r.required > 0n) assert.ok(r.fees < r.required, `${r.op}: costs ${r.fees}, must attach only ${r.required}`);
    }
    console.log(lines.join('\n'));
});
