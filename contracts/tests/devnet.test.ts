// The devnet (devnet/server.ts) as an ordinary TON client sees it: TonClient from @ton/ton
// against its toncenter-style API, a WalletContractV4 funded by the faucet sending a transfer,
// history paging, errors in toncenter's envelope, state surviving a restart, and the refusals
// (a port in use, a host other than 127.0.0.1).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Address, beginCell, Cell, external, internal, SendMode, storeMessage, toNano } from '@ton/core';
import { mnemonicNew, mnemonicToPrivateKey, type KeyPair } from '@ton/crypto';
import { TonClient, WalletContractV4 } from '@ton/ton';

const CONTRACTS = join(__dirname, '..');

function freePort(): Promise<number> {
    return new Promise((resolve, reject) => {
        const s = createServer();
        s.once('error', reject);
        s.listen(0, '127.0.0.1', () => {
            const port = (s.address() as { port: number }).port;
            s.close(() => resolve(port));
        });
    });
}

/** A running devnet server. */
class Devnet {
    private constructor(
        readonly proc: ChildProcess,
        readonly base: string,
        readonly output: () => string,
    ) {}

    static async start(port: number, dataDir: string, extra: string[] = []): Promise<Devnet> {
        const proc = spawn(process.execPath, ['--import', 'tsx', 'devnet/server.ts', '--port', String(port), '--data-dir', dataDir, ...extra], {
            cwd: CONTRACTS,
            stdio: ['ignore', 'pipe', 'pipe'],
        });
        let out = '';
        proc.stdout!.on('data', (d) => (out += d));
        proc.stderr!.on('data', (d) => (out += d));
        const d = new Devnet(proc, `http://127.0.0.1:${port}`, () => out);
        const deadline = Date.now() + 60_000;
        for (;;) {
            if (proc.exitCode !== null) throw new Error(`devnet exited with ${proc.exitCode}:\n${out}`);
            try {
                const r = await d.get('/api/v2/getMasterchainInfo');
                if (r.ok) return d;
            } catch {
                // not listening yet
            }
            if (Date.now() > deadline) throw new Error(`devnet not ready after 60 s:\n${out}`);
            await new Promise((r) => setTimeout(r, 200));
        }
    }

    async get(path: string): Promise<any> {
        return (await fetch(this.base + path, { signal: AbortSignal.timeout(10_000) })).json();
    }

    async post(path: string, body: unknown): Promise<{ status: number; json: any }> {
        const r = await fetch(this.base + path, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: typeof body === 'string' ? body : JSON.stringify(body),
            signal: AbortSignal.timeout(10_000),
        });
        return { status: r.status, json: await r.json() };
    }

    /** SIGTERM, and the exit code (within 20 s). */
    stop(): Promise<number | null> {
        return new Promise((resolve, reject) => {
            const timer = setTimeout(() => reject(new Error('devnet did not stop within 20 s')), 20_000);
            this.proc.once('exit', (code) => {
                clearTimeout(timer);
                resolve(code);
            });
            this.proc.kill('SIGTERM');
        });
    }
}

describe('devnet config', () => {
    test('a config file sets the root params and allowlists; a bad one is refused', async (t) => {
        const dir = mkdtempSync(join(tmpdir(), 'cocoon-devnet-config-'));
        try {
            const hash = 'c0ffee'.padEnd(64, '0');
            const config = join(dir, 'config.json');
            writeFileSync(config, JSON.stringify({ params: { pricePerToken: '7' }, proxy_image_hashes: [hash] }));
            const bad = join(dir, 'bad.json');
            writeFileSync(bad, JSON.stringify({ params: { noSuchParam: 1 } }));
            const refused = spawnSync(process.execPath, ['--import', 'tsx', 'devnet/server.ts', '--port', String(await freePort()), '--data-dir', join(dir, 'bad'), '--config', bad], {
                cwd: CONTRACTS,
                encoding: 'utf8',
                timeout: 60_000,
            });
            const devnet = await Devnet.start(await freePort(), join(dir, 'chain'), ['--config', config]);
            try {
                const root = (await devnet.get('/devnet/info')).result.root;
                if (!root) {
                    t.skip('no contracts/wrappers/root.ts: no root deployed');
                    return;
                }
                // Params are checked against the wrapper's defaults: an unknown one stops the start.
                assert.equal(refused.status, 2, refused.stderr);
                assert.match(refused.stderr, /noSuchParam: unknown param/);
                assert.equal(root.params.pricePerToken, '7');
                assert.deepEqual(root.proxy_image_hashes, [hash]);
                const client = new TonClient({ endpoint: `${devnet.base}/api/v2/jsonRPC`, timeout: 10_000 });
                const valid = async (h: bigint) =>
                    (await client.runMethod(Address.parse(root.address), 'proxy_hash_is_valid', [{ type: 'int', value: h }])).stack.readBoolean();
                assert.equal(await valid(BigInt('0x' + hash)), true);
                assert.equal(await valid(1n), false);
                const onDisk = JSON.parse(readFileSync(join(dir, 'chain', 'devnet.json'), 'utf8'));
                assert.equal(onDisk.root.address, root.address);
                assert.match(onDisk.devnet, /DEVNET/);
            } finally {
                await devnet.stop();
            }
        } finally {
            rmSync(dir, { recursive: true, force: true });
        }
    });
});

describe('devnet', () => {
    let dir: string;
    let port: number;
    let devnet: Devnet;
    let client: TonClient;
    let keys: KeyPair;
    let wallet: WalletContractV4;
    const dest = Address.parse('0:' + 'ab'.repeat(32));

    before(async () => {
        dir = mkdtempSync(join(tmpdir(), 'cocoon-devnet-test-'));
        port = await freePort();
        devnet = await Devnet.start(port, dir);
        client = new TonClient({ endpoint: `${devnet.base}/api/v2/jsonRPC`, timeout: 10_000 });
        keys = await mnemonicToPrivateKey(await mnemonicNew());
        wallet = WalletContractV4.create({ workchain: 0, publicKey: keys.publicKey });
    });

    after(async () => {
        if (devnet && devnet.proc.exitCode === null) await devnet.stop();
        rmSync(dir, { recursive: true, force: true });
    });

    test('TonClient reads masterchain info and an empty account', async () => {
        const mc = await client.getMasterchainInfo();
        assert.equal(mc.workchain, -1);
        assert.equal(mc.initSeqno, 0);
        const state = await client.getContractState(wallet.address);
        assert.equal(state.state, 'uninitialized');
        assert.equal(state.balance, 0n);
        assert.equal(state.lastTransaction, null);
    });

    test('the faucet funds a wallet and says it is devnet only', async () => {
        const r = await devnet.post('/devnet/faucet', { address: wallet.address.toString(), amount: toNano('10').toString() });
        assert.equal(r.status, 200, JSON.stringify(r.json));
        assert.match(r.json.result.devnet, /DEVNET/);
        assert.equal(r.json.result.balance, toNano('10').toString());
        assert.equal(await client.getBalance(wallet.address), toNano('10'));
        const over = await devnet.post('/devnet/faucet', { address: wallet.address.toString(), amount: toNano('1001').toString() });
        assert.equal(over.status, 400);
        assert.equal(over.json.ok, false);
    });

    test('a WalletContractV4 deploys itself and sends a transfer, visible in getTransactions', async () => {
        const before = await client.getMasterchainInfo();
        const opened = client.open(wallet);
        await opened.sendTransfer({
            seqno: 0,
            secretKey: keys.secretKey,
            sendMode: SendMode.PAY_GAS_SEPARATELY | SendMode.IGNORE_ERRORS,
            messages: [internal({ to: dest, value: toNano('1'), bounce: false, body: 'hello devnet' })],
        });
        assert.equal(await opened.getSeqno(), 1);
        const state = await client.getContractState(wallet.address);
        assert.equal(state.state, 'active');
        assert.ok(state.balance < toNano('9') && state.balance > toNano('8.9'), `balance ${state.balance}`);
        assert.equal((await client.getMasterchainInfo()).latestSeqno, before.latestSeqno + 1, 'one block per sendBoc');

        // Newest first: the external transfer, then the faucet payment.
        const txs = await client.getTransactions(wallet.address, { limit: 10 });
        assert.equal(txs.length, 2);
        assert.equal(txs[0].inMessage?.info.type, 'external-in');
        assert.equal(txs[1].inMessage?.info.type, 'internal');
        assert.equal(state.lastTransaction?.lt, txs[0].lt.toString());

        const received = await client.getTransactions(dest, { limit: 5 });
        assert.equal(received.length, 1);
        const msg = received[0].inMessage!;
        assert.ok(msg.info.type === 'internal' && msg.info.value.coins === toNano('1') && msg.info.src.equals(wallet.address));
        const body = msg.body.beginParse();
        assert.equal(body.loadUint(32), 0);
        assert.equal(body.loadStringTail(), 'hello devnet');

        // Paging from the newest, exclusive (TonClient's default), gives the older one.
        const older = await client.getTransactions(wallet.address, {
            limit: 5,
            lt: txs[0].lt.toString(),
            hash: txs[0].hash().toString('base64'),
        });
        assert.equal(older.length, 1);
        assert.ok(older[0].hash().equals(txs[1].hash()));
        // to_lt stops before a transaction at or under it.
        const recent = await devnet.get(`/api/v2/getTransactions?address=${wallet.address}&to_lt=${txs[1].lt}`);
        assert.equal(recent.result.length, 1);
        const raw = recent.result[0];
        assert.equal(raw.in_msg.source, '');
        assert.equal(raw.out_msgs.length, 1);
        assert.equal(raw.out_msgs[0].value, toNano('1').toString());
        assert.equal(raw.out_msgs[0].message, 'hello devnet');
        assert.equal(raw.out_msgs[0].msg_data['@type'], 'msg.dataRaw');
        assert.equal(BigInt(raw.fee), BigInt(raw.storage_fee) + BigInt(raw.other_fee));
    });

    test('getWalletInformation recognizes the v4 wallet', async () => {
        const r = await devnet.get(`/api/v2/getWalletInformation?address=${wallet.address}`);
        assert.equal(r.ok, true);
        assert.equal(r.result.wallet, true);
        assert.equal(r.result.wallet_type, 'wallet v4 r2');
        assert.equal(r.result.seqno, 1);
        assert.equal(r.result.wallet_id, wallet.walletId);
        assert.equal(r.result.account_state, 'active');
    });

    test('estimateFee and sendBocReturnHash on a second transfer', async () => {
        const transfer = wallet.createTransfer({
            seqno: 1,
            secretKey: keys.secretKey,
            sendMode: SendMode.PAY_GAS_SEPARATELY,
            messages: [internal({ to: dest, value: toNano('0.5'), bounce: false })],
        });
        const fees = await client.estimateExternalMessageFee(wallet.address, { body: transfer, initCode: null, initData: null, ignoreSignature: true });
        assert.ok(fees.source_fees.gas_fee > 0 && fees.source_fees.in_fwd_fee > 0 && fees.source_fees.fwd_fee > 0, JSON.stringify(fees));
        assert.equal(await client.runMethod(wallet.address, 'seqno').then((r) => r.stack.readNumber()), 1, 'estimating changed nothing');

        const cell = beginCell().store(storeMessage(external({ to: wallet.address, body: transfer }))).endCell();
        const r = await devnet.post('/api/v2/sendBocReturnHash', { boc: cell.toBoc().toString('base64') });
        assert.equal(r.status, 200, JSON.stringify(r.json));
        assert.equal(r.json.result.hash, cell.hash().toString('base64'));
        const got = await client.getBalance(dest);
        assert.ok(got <= toNano('1.5') && got > toNano('1.49'), `balance ${got} (1.5 TON less storage fees)`);
        // The same message again: the wallet refuses it (seqno), as a real chain would.
        const again = await devnet.post('/api/v2/sendBoc', { boc: cell.toBoc().toString('base64') });
        assert.equal(again.status, 500);
        assert.match(again.json.error, /not accepted/);
    });

    test('runGetMethod with a stack in toncenter format, and on the root', async (t) => {
        const r = await devnet.post('/api/v2/runGetMethod', { address: wallet.address.toString(), method: 'get_public_key', stack: [] });
        assert.equal(r.json.result.exit_code, 0);
        assert.deepEqual(r.json.result.stack, [['num', '0x' + keys.publicKey.toString('hex').replace(/^0+/, '')]]);
        const missing = await devnet.post('/api/v2/runGetMethod', { address: wallet.address.toString(), method: 'no_such_getter', stack: [] });
        assert.notEqual(missing.json.result.exit_code, 0);
        const empty = await devnet.post('/api/v2/runGetMethod', { address: dest.toString(), method: 'seqno', stack: [['num', 1]] });
        assert.equal(empty.json.result.exit_code, -13, 'no code at an uninitialized account');

        const info = (await devnet.get('/devnet/info')).result;
        if (!info.root) {
            t.skip('no contracts/wrappers/root.ts: no root deployed');
            return;
        }
        const root = Address.parse(info.root.address);
        assert.equal((await client.getContractState(root)).state, 'active');
        const data = await client.runMethod(root, 'get_root_data');
        assert.ok(data.stack.readAddress().equals(Address.parse(info.owner)));
    });

    test('errors come in toncenter envelopes', async () => {
        const bad = await devnet.post('/api/v2/sendBoc', { boc: 'bm90IGEgYm9j' });
        assert.deepEqual([bad.status, bad.json.ok, bad.json.code], [400, false, 400]);
        const addr = await devnet.get('/api/v2/getAddressBalance?address=nope');
        assert.deepEqual([addr.ok, addr.code], [false, 416]);
        const unknown = await devnet.get('/api/v2/getNothing');
        assert.deepEqual([unknown.ok, unknown.code], [false, 404]);
        const big = await devnet.post('/api/v2/sendBoc', JSON.stringify({ boc: 'A'.repeat(1024 * 1024 + 16) }));
        assert.equal(big.status, 413);
        const internalMsg = beginCell()
            .store(
                storeMessage({
                    info: { type: 'internal', ihrDisabled: true, bounce: false, bounced: false, src: dest, dest, value: { coins: 1n }, ihrFee: 0n, forwardFee: 0n, createdLt: 0n, createdAt: 0 },
                    body: Cell.EMPTY,
                }),
            )
            .endCell();
        const notExternal = await devnet.post('/api/v2/sendBoc', { boc: internalMsg.toBoc().toString('base64') });
        assert.equal(notExternal.status, 400);
        assert.match(notExternal.json.error, /external/);
        const notJson = await devnet.post('/api/v2/sendBoc', '{');
        assert.equal(notJson.status, 400);
        const bal = await devnet.get(`/api/v2/getAddressBalance?address=${dest.toRawString()}`);
        assert.equal(bal.result, (await client.getBalance(dest)).toString(), 'raw addresses work too');
    });

    test('state survives a restart; a second devnet on the port is refused', async () => {
        const mc = await client.getMasterchainInfo();
        const balance = await client.getBalance(wallet.address);
        const txs = await client.getTransactions(wallet.address, { limit: 10 });

        const clash = spawnSync(process.execPath, ['--import', 'tsx', 'devnet/server.ts', '--port', String(port), '--data-dir', join(dir, 'other')], {
            cwd: CONTRACTS,
            encoding: 'utf8',
            timeout: 30_000,
        });
        assert.equal(clash.status, 2, clash.stderr);
        assert.match(clash.stderr, /port \d+ .*already in use/);
        const host = spawnSync(process.execPath, ['--import', 'tsx', 'devnet/server.ts', '--host', '0.0.0.0'], { cwd: CONTRACTS, encoding: 'utf8', timeout: 30_000 });
        assert.equal(host.status, 2);
        assert.match(host.stderr, /127\.0\.0\.1 only/);

        assert.equal(await devnet.stop(), 0);
        devnet = await Devnet.start(port, dir);
        assert.equal(await client.getBalance(wallet.address), balance);
        assert.equal((await client.getMasterchainInfo()).latestSeqno, mc.latestSeqno);
        const again = await client.getTransactions(wallet.address, { limit: 10 });
        assert.deepEqual(
            again.map((t) => t.hash().toString('hex')),
            txs.map((t) => t.hash().toString('hex')),
        );
        // And the chain goes on: the wallet's next seqno still works (through sendMessage).
        const body = wallet.createTransfer({
            seqno: 2,
            secretKey: keys.secretKey,
            sendMode: SendMode.PAY_GAS_SEPARATELY,
            messages: [internal({ to: dest, value: toNano('0.1'), bounce: false })],
        });
        await client.sendMessage(external({ to: wallet.address, body }));
        assert.equal(await client.open(wallet).getSeqno(), 3);
    });
});
