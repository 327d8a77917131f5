/**
 * The devnet's command line and its config file.
 *
 *   tsx devnet/server.ts [--port 8081] [--data-dir data/devnet] [--config devnet.json] [--host 127.0.0.1]
 *
 * The config file (JSON, every key optional):
 *   {
 *     "params": { "<NetworkParams field>": <number or decimal string>, ... },
 *     "proxy_image_hashes": ["<64 hex digits>", ...],
 *     "worker_image_hashes": [...],
 *     "model_hashes": [...]
 *   }
 * `params` overrides the root wrapper's defaultParams field by field; camelCase spellings of
 * the hash lists (proxyImageHashes, ...) are accepted too.
 */

import { Address, Cell } from '@ton/core';
import * as fs from 'node:fs';
import * as path from 'node:path';

/** A bad command line or config: the server prints it and exits with status 2. */
export class UsageError extends Error {}

/** Parsed command line. */
export type Options = {
    host: string;
    port: number;
    dataDir: string;
    config: DevnetConfig;
    configPath?: string;
};

/** The config file, validated: hashes as bigints, params overrides as given. */
export type DevnetConfig = {
    params: Record<string, unknown>;
    proxyImageHashes: bigint[];
    workerImageHashes: bigint[];
    modelHashes: bigint[];
};

export const DEFAULT_PORT = 8081;

const USAGE = 'usage: server.ts [--port N] [--data-dir DIR] [--config FILE] [--host 127.0.0.1]';

/** Parses argv (without node and the script). */
export function parseArgs(argv: string[]): Options {
    let port = DEFAULT_PORT;
    let host = '127.0.0.1';
    let dataDir = path.join('data', 'devnet');
    let configPath: string | undefined;
    for (let i = 0; i < argv.length; i++) {
        const arg = argv[i];
        const [flag, inline] = arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined];
        const value = (): string => {
            const v = inline ?? argv[++i];
            if (v === undefined || v === '') throw new UsageError(`${flag} needs a value\n${USAGE}`);
            return v;
        };
        switch (flag) {
            case '--port': {
                const v = value();
                port = Number(v);
                if (!/^\d+$/.test(v) || port < 1 || port > 65535) throw new UsageError(`--port: not a port: ${v}`);
                break;
            }
            case '--host':
                host = value();
                break;
            case '--data-dir':
                dataDir = value();
                break;
            case '--config':
                configPath = value();
                break;
            case '--help':
            case '-h':
                throw new UsageError(USAGE);
            default:
                throw new UsageError(`unknown argument: ${arg}\n${USAGE}`);
        }
    }
    if (host !== '127.0.0.1' && host !== 'localhost') {
        throw new UsageError(`--host ${host}: the devnet binds 127.0.0.1 only (it has a faucet and no authentication)`);
    }
    const config = configPath ? loadConfig(configPath) : emptyConfig();
    return { host: '127.0.0.1', port, dataDir: path.resolve(dataDir), config, configPath };
}

function emptyConfig(): DevnetConfig {
    return { params: {}, proxyImageHashes: [], workerImageHashes: [], modelHashes: [] };
}

/** Reads and validates a config file. */
export function loadConfig(file: string): DevnetConfig {
    let raw: unknown;
    try {
        raw = JSON.parse(fs.readFileSync(file, 'utf8'));
    } catch (e) {
        throw new UsageError(`--config ${file}: ${(e as Error).message}`);
    }
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
        throw new UsageError(`--config ${file}: expected a JSON object`);
    }
    const obj = raw as Record<string, unknown>;
    const known = new Set([
        'params',
        'proxy_image_hashes',
        'worker_image_hashes',
        'model_hashes',
        'proxyImageHashes',
        'workerImageHashes',
        'modelHashes',
    ]);
    for (const k of Object.keys(obj)) {
        if (!known.has(k)) throw new UsageError(`--config ${file}: unknown key "${k}" (known: ${[...known].join(', ')})`);
    }
    const params = obj.params ?? {};
    if (params === null || typeof params !== 'object' || Array.isArray(params)) {
        throw new UsageError(`--config ${file}: "params" must be an object`);
    }
    const hashes = (snake: string, camel: string): bigint[] => {
        const v = obj[snake] ?? obj[camel] ?? [];
        if (!Array.isArray(v)) throw new UsageError(`--config ${file}: "${snake}" must be an array of hex hashes`);
        return v.map((h, i) => parseHash(h, `${snake}[${i}]`, file));
    };
    return {
        params: params as Record<string, unknown>,
        proxyImageHashes: hashes('proxy_image_hashes', 'proxyImageHashes'),
        workerImageHashes: hashes('worker_image_hashes', 'workerImageHashes'),
        modelHashes: hashes('model_hashes', 'modelHashes'),
    };
}

function parseHash(h: unknown, what: string, file: string): bigint {
    const s = typeof h === 'string' ? h.trim().replace(/^0x/i, '') : '';
    if (!/^[0-9a-fA-F]{64}$/.test(s)) throw new UsageError(`--config ${file}: ${what}: expected 64 hex digits, got ${JSON.stringify(h)}`);
    return BigInt(`0x${s}`);
}

/**
 * `defaults` with `overrides` applied field by field, each converted to the type of the
 * default (bigint, number, boolean, nested object); an unknown field is an error.
 */
export function mergeParams<T>(defaults: T, overrides: Record<string, unknown>, where = 'params'): T {
    if (defaults === null || typeof defaults !== 'object') throw new UsageError(`${where}: the defaults are not an object`);
    const out: Record<string, unknown> = { ...(defaults as Record<string, unknown>) };
    for (const [k, v] of Object.entries(overrides)) {
        if (!(k in out)) {
            throw new UsageError(`${where}.${k}: unknown param (known: ${Object.keys(out).join(', ')})`);
        }
        out[k] = coerce(out[k], v, `${where}.${k}`);
    }
    return out as T;
}

function coerce(def: unknown, v: unknown, where: string): unknown {
    switch (typeof def) {
        case 'bigint':
            if ((typeof v === 'number' && Number.isSafeInteger(v)) || (typeof v === 'string' && /^-?\d+$/.test(v.trim()))) {
                return BigInt(typeof v === 'string' ? v.trim() : v);
            }
            throw new UsageError(`${where}: expected an integer (number or decimal string), got ${JSON.stringify(v)}`);
        case 'number':
            if (typeof v === 'number' && Number.isFinite(v)) return v;
            if (typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v))) return Number(v);
            throw new UsageError(`${where}: expected a number, got ${JSON.stringify(v)}`);
        case 'boolean':
            if (typeof v === 'boolean') return v;
            throw new UsageError(`${where}: expected true or false, got ${JSON.stringify(v)}`);
        case 'string':
            if (typeof v === 'string') return v;
            throw new UsageError(`${where}: expected a string, got ${JSON.stringify(v)}`);
        case 'object':
            if (def !== null && v !== null && typeof v === 'object' && !Array.isArray(v) && !Array.isArray(def)) {
                return mergeParams(def, v as Record<string, unknown>, where);
            }
            throw new UsageError(`${where}: expected an object, got ${JSON.stringify(v)}`);
        default:
            throw new UsageError(`${where}: cannot override a param of type ${typeof def}`);
    }
}

/** JSON with bigints as decimal strings (for devnet.json and /devnet/info). */
export function jsonable(v: unknown): unknown {
    if (typeof v === 'bigint') return v.toString();
    if (Array.isArray(v)) return v.map(jsonable);
    if (v !== null && typeof v === 'object') {
        if (Address.isAddress(v)) return v.toString();
        if (v instanceof Cell) return v.toBoc().toString('base64');
        if (Buffer.isBuffer(v)) return v.toString('hex');
        return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, jsonable(x)]));
    }
    return v;
}
