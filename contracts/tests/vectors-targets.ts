// Writes tests/vectors/targets.json: the addresses the Rust voucher vectors are signed for,
// taken from the standard test network (tests/net.ts). Run after a contract change, then
// `cargo run -p cocoon-voucher --example vectors > contracts/tests/vectors/vouchers.json`.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { network, registerProxy, seedKeys, clientContract, workerContract } from './net';

export async function vectorTargets() {
    const net = await network();
    const proxy = await registerProxy(net, 'proxy-op', seedKeys(0x42));
    const client = await net.chain.treasury('client');
    const other = await net.chain.treasury('other-client');
    const worker = await net.chain.treasury('worker');
    const excesses = await net.chain.treasury('excesses');
    return {
        comment:
            'Written by `npx tsx tests/vectors-targets.ts` in contracts/ from the compiled contracts; read by `cargo run -p cocoon-voucher --example vectors`, which writes vouchers.json next to it.',
        proxy_key_seed_hex: '42'.repeat(32),
        other_key_seed_hex: '07'.repeat(32),
        excesses_to: excesses.address.toRawString(),
        client_contract: clientContract(net, proxy, client.address).address.toRawString(),
        other_client_contract: clientContract(net, proxy, other.address).address.toRawString(),
        worker_contract: workerContract(net, proxy, worker.address).address.toRawString(),
    };
}

if (require.main === module) {
    vectorTargets().then((t) => {
        writeFileSync(join(__dirname, 'vectors', 'targets.json'), JSON.stringify(t, null, 2) + '\n');
        console.log(t);
    });
}
