/**
 * `cocoon devnet`'s server: a local TON chain (TON's own emulator, @ton/sandbox) behind the
 * subset of the TON HTTP API v2 that toncenter serves, with a faucet. DEVNET ONLY: its
 * coins are worthless.
 *
 *   node --import tsx devnet/server.ts [--port 8081] [--data-dir data/devnet] [--config FILE]
 *
 * Start order: lock the data dir, bind 127.0.0.1:port (a port in use exits with status 2 at
 * once), open the saved chain (or a fresh one), deploy the root at first start, then serve.
 * SIGINT/SIGTERM: stop accepting, let running operations finish, save, exit 0. With
 * COCOON_DEVNET_WATCH_PARENT=1 (set by `cocoon devnet`) it also stops when its parent dies.
 */

import { createServer, type Server } from 'node:http';
import { Chain } from './chain';
import { parseArgs, UsageError, type Options } from './config';
import { ensureRoot, type RootInfo } from './deploy';
import { errorMessage } from './errors';
import { DEVNET_WARNING, FAUCET_CAP, faucetAddress } from './faucet';
import { handler, type Context } from './http';
import { Store } from './state';

function log(line: string): void {
    console.log(`${new Date().toISOString()} devnet: ${line}`);
}

/** Exits with `code` after printing `message` as one line on stderr. */
function die(code: number, message: string): never {
    console.error(`devnet: ${message}`);
    process.exit(code);
}

function listen(server: Server, opts: Options): Promise<void> {
    return new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(opts.port, opts.host, () => {
            server.off('error', reject);
            resolve();
        });
    });
}

async function main(): Promise<void> {
    let opts: Options;
    try {
        opts = parseArgs(process.argv.slice(2));
    } catch (e) {
        die(2, errorMessage(e));
    }
    const store = new Store(opts.dataDir);
    try {
        store.lock();
    } catch (e) {
        die(2, errorMessage(e));
    }
    const endpoint = `http://127.0.0.1:${opts.port}/api/v2/`;
    let info: object = { devnet: DEVNET_WARNING, endpoint, starting: true };
    const ctx: Context = { chain: null, info: () => info, log };
    const server = createServer(handler(ctx));
    server.requestTimeout = 60_000;
    server.headersTimeout = 10_000;
    server.keepAliveTimeout = 5_000;
    try {
        await listen(server, opts);
    } catch (e) {
        store.unlock();
        const err = e as NodeJS.ErrnoException;
        if (err.code === 'EADDRINUSE') die(2, `port ${opts.port} on 127.0.0.1 is already in use (is another devnet running?)`);
        die(2, `cannot listen on 127.0.0.1:${opts.port}: ${errorMessage(e)}`);
    }

    let stopping = false;
    const stop = (signal: string): void => {
        if (stopping) return;
        stopping = true;
        log(`${signal}: stopping (saving state first)`);
        const force = setTimeout(() => die(1, 'shutdown took over 15 s; exiting without a final save'), 15_000);
        force.unref();
        server.close();
        server.closeIdleConnections();
        void (async () => {
            const chain = ctx.chain;
            if (chain) {
                if (!(await chain.drain(10_000))) log('operations still running after 10 s; saving what is there');
                chain.save();
            }
            store.unlock();
            log('stopped');
            process.exit(0);
        })().catch((e) => die(1, `shutdown failed: ${errorMessage(e)}`));
    };
    process.on('SIGINT', () => stop('SIGINT'));
    process.on('SIGTERM', () => stop('SIGTERM'));
    if (process.env.COCOON_DEVNET_WATCH_PARENT === '1') {
        // Started by `cocoon devnet`: if it dies without forwarding a signal, stop too.
        const parent = process.ppid;
        setInterval(() => process.ppid !== parent && stop('parent process gone'), 1000).unref();
    }

    const chain = await Chain.open(store);
    const previous = store.readInfo()?.root as RootInfo | undefined | null;
    const root = await ensureRoot(chain, opts.config, previous ?? undefined, (l) => log(`WARNING: ${l}`));
    const faucet = await faucetAddress(chain.blockchain);
    const describe = (): object => ({
        devnet: DEVNET_WARNING,
        endpoint,
        jsonrpc: `${endpoint}jsonRPC`,
        faucet: { url: `http://127.0.0.1:${opts.port}/devnet/faucet`, address: faucet.toString(), cap: FAUCET_CAP.toString() },
        root: root ?? null,
        owner: root?.owner ?? null,
        params: root?.params ?? null,
        data_dir: opts.dataDir,
        seqno: chain.seqno,
        pid: process.pid,
    });
    store.writeInfo({ ...describe(), seqno: undefined });
    info = describe();
    ctx.info = describe;
    ctx.chain = chain;

    const bar = '!'.repeat(DEVNET_WARNING.length + 8);
    console.log(bar);
    console.log(`!!! ${DEVNET_WARNING} !!!`);
    console.log(bar);
    log(`TON HTTP API v2 at ${endpoint} (JSON-RPC: ${endpoint}jsonRPC)`);
    log(`root: ${root ? root.address : 'none (no contracts/wrappers/root.ts yet)'}`);
    log(`faucet: POST http://127.0.0.1:${opts.port}/devnet/faucet {"address","amount"} (at most 1000 TON a call)`);
    log(`data dir: ${opts.dataDir} (block seqno ${chain.seqno})`);
}

main().catch((e) => {
    if (e instanceof UsageError) die(2, e.message);
    die(1, `failed to start: ${e instanceof Error && e.stack ? e.stack : errorMessage(e)}`);
});
