/**
 * The network's root contract on the devnet: deployed at first start from the governance
 * treasury (the devnet's "owner" wallet) with the configured params and allowlists, through
 * the contract wrapper at contracts/wrappers/root.ts.
 *
 * The wrapper is loaded at run time: while it does not exist yet the devnet still runs (a
 * chain with a faucet and no root) and says so; once it exists, the next start deploys the
 * root. A root already on the chain is kept; if the config changed since, a warning says to
 * delete the data dir to redeploy.
 */

import { Address, beginCell, contractAddress, toNano, type Cell } from '@ton/core';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Chain } from './chain';
import { jsonable, mergeParams, type DevnetConfig } from './config';
import { GOVERNANCE_SEED } from './faucet';

/** What the devnet uses of contracts/wrappers/root.ts. */
type RootWrapper = {
    loadCodes?: () => unknown;
    rootStateInit: (cfg: RootConfig, codes?: unknown) => { code: Cell; data: Cell };
    defaultParams: unknown;
};

/** The wrapper's RootConfig. */
type RootConfig = {
    owner: Address;
    params: unknown;
    proxyImageHashes: bigint[];
    workerImageHashes: bigint[];
    modelHashes: bigint[];
};

/** The root as devnet.json and /devnet/info describe it. */
export type RootInfo = {
    address: string;
    raw: string;
    owner: string;
    params: unknown;
    proxy_image_hashes: string[];
    worker_image_hashes: string[];
    model_hashes: string[];
};

/** Where the wrapper lives; COCOON_DEVNET_ROOT_WRAPPER points elsewhere (for trying a stub). */
export function wrapperPath(): string {
    return process.env.COCOON_DEVNET_ROOT_WRAPPER ?? path.join(__dirname, '..', 'wrappers', 'root.ts');
}

function loadWrapper(): RootWrapper | undefined {
    const file = wrapperPath();
    if (!fs.existsSync(file)) return undefined;
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const mod = require(file) as Partial<RootWrapper>;
    if (typeof mod.rootStateInit !== 'function' || mod.defaultParams === undefined) {
        throw new Error(`${file} does not export rootStateInit and defaultParams`);
    }
    return mod as RootWrapper;
}

function hex(h: bigint): string {
    return h.toString(16).padStart(64, '0');
}

/**
 * Makes sure the root is on the chain: keeps the one recorded in `previous` if it is active,
 * else deploys one. Returns undefined (with a warning) while the wrapper does not exist.
 */
export async function ensureRoot(
    chain: Chain,
    config: DevnetConfig,
    previous: RootInfo | undefined,
    warn: (line: string) => void,
): Promise<RootInfo | undefined> {
    const wrapper = loadWrapper();
    const owner = (await chain.serial(() => chain.blockchain.treasury(GOVERNANCE_SEED, { predeploy: false }))).address;
    if (!wrapper) {
        if (previous) return previous;
        warn(`no root contract: ${wrapperPath()} does not exist yet (the devnet runs without one; restart once it exists)`);
        return undefined;
    }
    const defaults = typeof wrapper.defaultParams === 'function' ? (wrapper.defaultParams as () => unknown)() : wrapper.defaultParams;
    const cfg: RootConfig = {
        owner,
        params: mergeParams(defaults, config.params),
        proxyImageHashes: config.proxyImageHashes,
        workerImageHashes: config.workerImageHashes,
        modelHashes: config.modelHashes,
    };
    const info = (address: Address): RootInfo => ({
        address: address.toString(),
        raw: address.toRawString(),
        owner: owner.toString(),
        params: jsonable(cfg.params),
        proxy_image_hashes: cfg.proxyImageHashes.map(hex),
        worker_image_hashes: cfg.workerImageHashes.map(hex),
        model_hashes: cfg.modelHashes.map(hex),
    });
    if (previous && (await chain.account(Address.parse(previous.address))).state === 'active') {
        const settings = (r: RootInfo): string => JSON.stringify({ ...r, address: undefined, raw: undefined });
        if (settings(previous) !== settings(info(Address.parse(previous.address)))) {
            warn('the config differs from the deployed root\'s; keeping the deployed root (delete the data dir to redeploy)');
        }
        return previous;
    }
    const codes = wrapper.loadCodes ? await wrapper.loadCodes() : undefined;
    const init = codes === undefined ? wrapper.rootStateInit(cfg) : wrapper.rootStateInit(cfg, codes);
    const address = contractAddress(0, init);
    await chain.apply(async (bc) => {
        const governance = await bc.treasury(GOVERNANCE_SEED);
        await governance.send({ to: address, value: toNano('1'), init, body: beginCell().endCell(), bounce: false });
    });
    const state = await chain.account(address);
    if (state.state !== 'active') {
        const last = chain.transactionsOf(address).at(-1);
        throw new Error(
            `root deploy failed: the account at ${address.toString()} is ${state.state}` +
                (last ? ` after transaction lt ${last.lt}` : ' and received no transaction'),
        );
    }
    return info(address);
}
