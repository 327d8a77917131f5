// Prints (JSON) what the Rust crate cocoon-ton must compute identically: the addresses of a
// root, a proxy, a client and a worker contract for fixed inputs, a wallet v4r2's address, the
// message bodies of the contracts' operations and a signed v4r2 transfer. Regenerate with
//   npx tsx tests/ton-rs-targets.ts > ../crates/ton/tests/data/addresses.json
// (in contracts/) after a contract change; crates/ton/tests/targets.rs compares.
import { Address, beginCell, Cell, internal, SendMode } from '@ton/core';
import { keyPairFromSeed } from '@ton/crypto';
import { WalletContractV4 } from '@ton/ton';
import { addressOf, clientStateInit, proxyStateInit, workerStateInit } from '../wrappers/children';
import { ClientContract, ProxyContract } from '../wrappers/contracts';
import { defaultParams, loadCodes, Root, rootStateInit } from '../wrappers/root';

const boc = (c: Cell) => c.toBoc({ idx: false }).toString('base64');
const raw = (a: Address) => a.toRawString();

export function tonRsTargets() {
    const codes = loadCodes();
    const params = defaultParams();
    const keys = keyPairFromSeed(Buffer.alloc(32, 0x42));
    const publicKey = BigInt('0x' + keys.publicKey.toString('hex'));
    const owner = (byte: number) => Address.parse(`0:${byte.toString(16).padStart(2, '0').repeat(32)}`);
    const rootOwner = owner(0x11);
    const proxyOwner = owner(0x22);
    const clientOwner = owner(0x33);
    const workerOwner = owner(0x44);

    const root = addressOf(rootStateInit({ owner: rootOwner, params, proxyImageHashes: [], workerImageHashes: [], modelHashes: [] }, codes));
    const rootWithLists = addressOf(
        rootStateInit({ owner: rootOwner, params: { ...params, uniqueId: 7, isTest: false }, proxyImageHashes: [0xaan], workerImageHashes: [0xbbn, 0xccn], modelHashes: [1n << 255n] }, codes),
    );
    const proxySeqno = 1;
    const proxy = addressOf(proxyStateInit(codes, root, params, proxyOwner, publicKey, proxySeqno));
    const client = addressOf(clientStateInit(codes, params, clientOwner, proxy, publicKey));
    const worker = addressOf(workerStateInit(codes, params, workerOwner, proxy, publicKey));
    const wallet = WalletContractV4.create({ workchain: 0, publicKey: keys.publicKey });

    const clientInit = clientStateInit(codes, params, wallet.address, proxy, publicKey);
    const transfer = wallet.createTransfer({
        seqno: 0,
        secretKey: keys.secretKey,
        timeout: 1_700_000_000,
        sendMode: SendMode.PAY_GAS_SEPARATELY | SendMode.IGNORE_ERRORS,
        messages: [internal({ to: addressOf(clientInit), value: 1_000_000_000n, bounce: true, init: clientInit, body: ClientContract.topUp(5n) })],
    });

    return {
        comment: 'Written by `npx tsx tests/ton-rs-targets.ts` in contracts/; read by crates/ton/tests/targets.rs.',
        key_seed_hex: '42'.repeat(32),
        public_key_hex: keys.publicKey.toString('hex'),
        root_owner: raw(rootOwner),
        proxy_owner: raw(proxyOwner),
        client_owner: raw(clientOwner),
        worker_owner: raw(workerOwner),
        proxy_seqno: proxySeqno,
        root: raw(root),
        root_with_lists: raw(rootWithLists),
        proxy: raw(proxy),
        client: raw(client),
        worker: raw(worker),
        wallet_v4r2: raw(wallet.address),
        wallet_v4r2_friendly: wallet.address.toString({ bounceable: false, urlSafe: true }),
        wallet_v4r2_friendly_testnet: wallet.address.toString({ bounceable: true, urlSafe: true, testOnly: true }),
        wallet_client: raw(addressOf(clientInit)),
        wallet_transfer_body: boc(transfer),
        bodies: {
            client_top_up: boc(ClientContract.topUp(5n)),
            client_increase_stake: boc(ClientContract.increaseStake(6n)),
            client_withdraw: boc(ClientContract.withdraw(1_234_567_890n, 7n)),
            client_request_refund: boc(ClientContract.requestRefund(8n)),
            client_force_refund: boc(ClientContract.forceRefund(9n)),
            proxy_increase_stake: boc(ProxyContract.increaseStake(10n)),
            proxy_withdraw_commission: boc(ProxyContract.withdrawCommission(555n, 11n)),
            proxy_save_state: boc(ProxyContract.saveState(3, (1n << 200n) + 5n, 12n)),
            proxy_start_close: boc(ProxyContract.startClose(13n)),
            proxy_finish_close: boc(ProxyContract.finishClose(14n)),
            register_proxy: boc(
                Root.registerBody({ queryId: 15n, publicKey, stake: 10_000_000_000n, clientEndpoint: '127.0.0.1:8888', workerEndpoint: 'proxy.example:8889', reportUrl: 'http://proxy.example:8803' }),
            ),
        },
        empty_cell: boc(beginCell().endCell()),
    };
}

if (require.main === module) {
    console.log(JSON.stringify(tonRsTargets(), null, 2));
}
