// Root: params and allowlists under the owner's governance, permissionless proxy registration,
// getters for all of it.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Cell, beginCell, toNano } from '@ton/core';
import { AllowList, Err, Op } from '../wrappers/ops';
import { Root } from '../wrappers/root';
import { proxyStateInit, addressOf } from '../wrappers/children';
import { codes, expectAllOk, expectRefused, network, publicKeyOf, registerProxy, seedKeys, txOn } from './net';

describe('root', () => {
    test('getters show the initial params, allowlists and codes', async () => {
        const net = await network();
        const data = await net.root.getRootData();
        assert.ok(data.owner.equals(net.owner.address));
        assert.deepEqual([data.version, data.paramsVersion, data.lastProxySeqno, data.proxyCount], [0, 1, 0, 0]);
        const p = await net.root.getParams();
        assert.equal(p.pricePerToken, net.params.pricePerToken);
        assert.equal(p.minProxyStake, toNano('10'));
        assert.ok(p.proxyCode!.equals(codes.proxy) && p.workerCode!.equals(codes.worker) && p.clientCode!.equals(codes.client));
        assert.equal(await net.root.getHashIsValid('proxy_hash_is_valid', 0xaan), true);
        assert.equal(await net.root.getHashIsValid('proxy_hash_is_valid', 0xbbn), false);
        assert.equal(await net.root.getHashIsValid('worker_hash_is_valid', 0xbbn), true);
        assert.equal(await net.root.getHashIsValid('model_hash_is_valid', 0xccn), true);
    });

    test('the owner edits allowlists; each change bumps the version; others are refused', async () => {
        const net = await network();
        const stranger = await net.chain.treasury('stranger');
        expectAllOk((await net.root.sendUpdateAllowlist(net.owner.getSender(), toNano('0.05'), AllowList.models, 0x1234n, true)).transactions);
        assert.equal(await net.root.getHashIsValid('model_hash_is_valid', 0x1234n), true);
        expectAllOk((await net.root.sendUpdateAllowlist(net.owner.getSender(), toNano('0.05'), AllowList.proxyImages, 0xaan, false)).transactions);
        assert.equal(await net.root.getHashIsValid('proxy_hash_is_valid', 0xaan), false);
        assert.equal((await net.root.getRootData()).version, 2);
        const r = await net.root.sendUpdateAllowlist(stranger.getSender(), toNano('0.05'), AllowList.workerImages, 0x99n, true);
        expectRefused(r.transactions, net.root.address, Err.wrongSender);
        expectRefused((await net.root.sendUpdateAllowlist(net.owner.getSender(), toNano('0.05'), 4, 0x99n, true)).transactions,
            net.root.address, Err.badList);
        assert.equal((await net.root.getRootData()).version, 2);
    });

    test('params: the owner replaces them, the root bumps params_version; bad params refused', async () => {
        const net = await network();
        const stranger = await net.chain.treasury('stranger');
        expectAllOk((await net.root.sendUpdateParams(net.owner.getSender(), toNano('0.05'), { ...net.params, pricePerToken: 5n, paramsVersion: 77 })).transactions);
        let p = await net.root.getParams();
        assert.equal(p.pricePerToken, 5n);
        assert.equal(p.paramsVersion, 2);
        expectRefused((await net.root.sendUpdateParams(net.owner.getSender(), toNano('0.05'), { ...net.params, workerFeePerToken: 6n, pricePerToken: 5n })).transactions,
            net.root.address, Err.badParams);
        expectRefused((await net.root.sendUpdateParams(net.owner.getSender(), toNano('0.05'), { ...net.params, pricePerToken: 0n, workerFeePerToken: 0n })).transactions,
            net.root.address, Err.badParams);
        expectRefused((await net.root.sendUpdateParams(stranger.getSender(), toNano('0.05'), net.params)).transactions, net.root.address, Err.wrongSender);
        // Params without child codes are refused.
        const noCodes = beginCell().storeUint(Op.updateParams, 32).storeUint(0, 64)
            .storeRef(beginCell().storeUint(1, 8).storeUint(1, 32).storeUint(0, 32).storeBit(true).storeCoins(2).storeCoins(1)
                .storeUint(10000, 32).storeUint(10000, 32).storeUint(10000, 32).storeUint(10000, 32).storeUint(1, 32).storeUint(1, 32)
                .storeCoins(1).storeCoins(1).storeMaybeRef(null).storeMaybeRef(null).storeMaybeRef(null).endCell()).endCell();
        expectRefused((await net.root.sendBody(net.owner.getSender(), toNano('0.05'), noCodes)).transactions, net.root.address, Err.badParams);
        p = await net.root.getParams();
        assert.equal(p.paramsVersion, 2);
        assert.equal((await net.root.getRootData()).version, 1);
    });

    test('ownership moves to a new owner, and only the new one governs', async () => {
        const net = await network();
        const next = await net.chain.treasury('next-owner');
        expectAllOk((await net.root.sendChangeOwner(net.owner.getSender(), toNano('0.05'), next.address)).transactions);
        assert.ok((await net.root.getRootData()).owner.equals(next.address));
        expectRefused((await net.root.sendUpdateAllowlist(net.owner.getSender(), toNano('0.05'), AllowList.models, 1n, true)).transactions,
            net.root.address, Err.wrongSender);
        expectAllOk((await net.root.sendUpdateAllowlist(next.getSender(), toNano('0.05'), AllowList.models, 1n, true)).transactions);
    });

    test('anyone registers a proxy with enough stake; the root creates and lists its contract', async () => {
        const net = await network();
        const a = await registerProxy(net, 'op-a', seedKeys(1));
        const b = await registerProxy(net, 'op-b', seedKeys(2), toNano('25'));
        const proxies = await net.root.getProxies();
        assert.equal(proxies.size, 2);
        const entryA = await net.root.getProxy(a.contract.address);
        assert.ok(entryA);
        assert.equal(entryA.seqno, 1);
        assert.ok(entryA.owner.equals(a.operator.address));
        assert.equal(entryA.publicKey, publicKeyOf(a.keys));
        assert.equal(entryA.clientEndpoint, '127.0.0.1:8888');
        assert.equal((await b.contract.getData()).stake, toNano('25'));
        // The address anyone computes off chain is the one the root deployed.
        const init = proxyStateInit(codes, net.root.address, net.params, a.operator.address, publicKeyOf(a.keys), 1);
        assert.ok(addressOf(init).equals(a.contract.address));
        const d = await net.root.getRootData();
        assert.deepEqual([d.lastProxySeqno, d.proxyCount, d.version], [2, 2, 2]);
        // The same operator and key may register again: a new seqno, a new contract.
        const again = await registerProxy(net, 'op-a', seedKeys(1));
        assert.ok(!again.contract.address.equals(a.contract.address));
        assert.equal((await net.root.getProxies()).size, 3);
    });

    test('a registration may name its public report URL; one without it (the older shape) still parses', async () => {
        const net = await network();
        const op = await net.chain.treasury('reporter');
        const withUrl = await net.root.sendRegisterProxy(op.getSender(), toNano('10.1'), {
            publicKey: publicKeyOf(seedKeys(5)), stake: toNano('10'), clientEndpoint: 'p.example:8801',
            workerEndpoint: 'p.example:8802', reportUrl: 'http://p.example:8803',
        });
        expectAllOk(withUrl.transactions);
        // The shape registered before the report existed: two refs and no bit.
        const str = (s: string) => beginCell().storeStringTail(s).endCell();
        const oldBody = beginCell().storeUint(Op.registerProxy, 32).storeUint(0, 64).storeUint(publicKeyOf(seedKeys(6)), 256)
            .storeCoins(toNano('10')).storeRef(beginCell().storeRef(str('o:1')).storeRef(str('o:2')).endCell()).endCell();
        expectAllOk((await op.send({ to: net.root.address, value: toNano('10.1'), body: oldBody })).transactions);
        const entries = [...(await net.root.getProxies()).values()].sort((x, y) => x.seqno - y.seqno);
        assert.deepEqual(entries.map((e) => [e.clientEndpoint, e.reportUrl]), [['p.example:8801', 'http://p.example:8803'], ['o:1', null]]);
        // A report URL longer than two cells is refused like any oversized endpoint.
        const huge = await net.root.sendRegisterProxy(op.getSender(), toNano('10.1'), {
            publicKey: publicKeyOf(seedKeys(7)), stake: toNano('10'), clientEndpoint: 'a:1', workerEndpoint: 'a:2',
            reportUrl: 'http://' + 'x'.repeat(300),
        });
        expectRefused(huge.transactions, net.root.address, Err.badEndpoints);
    });

    test('registration below the minimum stake, without gas, or with oversized endpoints is refused and bounces', async () => {
        const net = await network();
        const op = await net.chain.treasury('cheap');
        const key = publicKeyOf(seedKeys(3));
        const low = await net.root.sendRegisterProxy(op.getSender(), toNano('10'), {
            publicKey: key, stake: toNano('9.99'), clientEndpoint: 'a:1', workerEndpoint: 'a:2',
        });
        expectRefused(low.transactions, net.root.address, Err.stakeTooLow);
        const noGas = await net.root.sendRegisterProxy(op.getSender(), toNano('10.01'), {
            publicKey: key, stake: toNano('10'), clientEndpoint: 'a:1', workerEndpoint: 'a:2',
        });
        expectRefused(noGas.transactions, net.root.address, Err.lowValue);
        const huge = await net.root.sendRegisterProxy(op.getSender(), toNano('11'), {
            publicKey: key, stake: toNano('10'), clientEndpoint: 'x'.repeat(2000), workerEndpoint: 'a:2',
        });
        expectRefused(huge.transactions, net.root.address, Err.badEndpoints);
        // The refused value came back (bounce) to the sender.
        const bounces = noGas.transactions.filter((t) => t.inMessage?.info.type === 'internal' && t.inMessage.info.bounced);
        assert.equal(bounces.length, 1);
        assert.equal((await net.root.getProxies()).size, 0);
        assert.equal((await net.root.getRootData()).version, 0);
    });

    test('an unlisted sender cannot unregister anything; plain transfers fund the root', async () => {
        const net = await network();
        const p = await registerProxy(net);
        const stranger = await net.chain.treasury('stranger');
        const unreg = beginCell().storeUint(Op.unregisterProxy, 32).storeUint(0, 64).endCell();
        expectRefused((await net.root.sendBody(stranger.getSender(), toNano('0.05'), unreg)).transactions, net.root.address, Err.unknownProxy);
        assert.equal((await net.root.getProxies()).size, 1);
        const r = await net.root.sendBody(stranger.getSender(), toNano('1'), Cell.EMPTY);
        assert.equal(txOn(r.transactions, net.root.address).success, true);
        expectRefused((await net.root.sendBody(stranger.getSender(), toNano('1'), beginCell().storeUint(0xdead, 32).endCell())).transactions,
            net.root.address, Err.unknownOp);
        void p;
        void Root;
    });
});
