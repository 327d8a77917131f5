/**
 * The devnet's HTTP front (node:http): routes, bounded bodies, toncenter's envelopes and a
 * one-line log per request.
 *
 *   GET|POST /api/v2/<method>   query parameters and/or a JSON body
 *   POST     /api/v2/jsonRPC    {id, jsonrpc, method, params}
 *   GET      /devnet/info       endpoint, root, owner, faucet, params
 *   POST     /devnet/faucet     {address, amount} (nanotons as a string), devnet coins
 */

import { Address } from '@ton/core';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { call, type Params } from './api';
import type { Chain } from './chain';
import { ApiError, errorMessage, incorrectAddress } from './errors';
import { DEVNET_WARNING, FAUCET_CAP, parseAmount, pay } from './faucet';
import { transactionId } from './tx-json';

/** Largest request body accepted. */
export const MAX_BODY = 1024 * 1024;

/** What the routes need besides the chain. */
export type Context = {
    /** Null until the chain is open: requests get a 503 meanwhile. */
    chain: Chain | null;
    /** GET /devnet/info's result. */
    info: () => object;
    log: (line: string) => void;
};

type Answer = { status: number; body: object };

function ok(result: unknown): Answer {
    return { status: 200, body: { ok: true, result } };
}

function fail(e: unknown): Answer {
    if (e instanceof ApiError) return { status: e.code, body: { ok: false, error: e.message, code: e.code } };
    return { status: 500, body: { ok: false, error: errorMessage(e), code: 500 } };
}

/** Reads the body, at most MAX_BODY bytes (413 past that). */
function readBody(req: IncomingMessage): Promise<Buffer> {
    return new Promise((resolve, reject) => {
        const declared = Number(req.headers['content-length'] ?? '0');
        if (declared > MAX_BODY) {
            reject(new ApiError(413, `request body over ${MAX_BODY} bytes`));
            return;
        }
        const chunks: Buffer[] = [];
        let size = 0;
        req.on('data', (c: Buffer) => {
            size += c.length;
            if (size > MAX_BODY) {
                reject(new ApiError(413, `request body over ${MAX_BODY} bytes`));
                req.pause();
                return;
            }
            chunks.push(c);
        });
        req.on('end', () => resolve(Buffer.concat(chunks)));
        req.on('error', reject);
    });
}

/** The JSON object in a body (empty body: no parameters). */
function jsonObject(body: Buffer): Params {
    if (body.length === 0) return {};
    let v: unknown;
    try {
        v = JSON.parse(body.toString('utf8'));
    } catch {
        throw new ApiError(400, 'request body is not JSON');
    }
    if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new ApiError(400, 'request body must be a JSON object');
    return v as Params;
}

function queryParams(url: URL): Params {
    const p: Params = {};
    for (const [k, v] of url.searchParams) p[k] = v;
    return p;
}

async function route(ctx: Context, req: IncomingMessage, url: URL, note: (s: string) => void): Promise<Answer> {
    const method = req.method ?? 'GET';
    const path = url.pathname.replace(/\/+$/, '');
    if (method !== 'GET' && method !== 'POST') throw new ApiError(405, `method ${method} not allowed`);
    const body = method === 'POST' ? jsonObject(await readBody(req)) : {};
    if (path === '/devnet/info' && method === 'GET') return ok(ctx.info());
    const chain = ctx.chain;
    if (!chain) throw new ApiError(503, 'the devnet is starting');
    if (path === '/devnet/faucet') {
        if (method !== 'POST') throw new ApiError(405, 'POST {address, amount} to /devnet/faucet');
        return ok(await faucet(chain, body));
    }
    if (path === '/api/v2/jsonRPC') {
        if (method !== 'POST') throw new ApiError(405, 'POST a JSON-RPC request to /api/v2/jsonRPC');
        return jsonRpc(chain, body, note);
    }
    if (path.startsWith('/api/v2/')) {
        const name = path.slice('/api/v2/'.length);
        return ok(await call(chain, name, { ...queryParams(url), ...body }));
    }
    throw new ApiError(404, 'Not Found');
}

async function jsonRpc(chain: Chain, req: Params, note: (s: string) => void): Promise<Answer> {
    const id = req.id ?? null;
    const name = typeof req.method === 'string' ? req.method : '';
    note(name);
    const params = req.params ?? {};
    if (params === null || typeof params !== 'object' || Array.isArray(params)) {
        return { status: 422, body: { ok: false, error: 'params must be an object', code: 422, jsonrpc: '2.0', id } };
    }
    try {
        const result = await call(chain, name, params as Params);
        return { status: 200, body: { ok: true, result, jsonrpc: '2.0', id } };
    } catch (e) {
        const a = fail(e);
        const status = a.status === 404 ? 422 : a.status; // toncenter: unknown JSON-RPC method is 422
        const error = a.status === 404 && e instanceof ApiError && e.message.startsWith('Not Found') ? 'Unknown method' : (a.body as { error: string }).error;
        return { status, body: { ok: false, error, code: status, jsonrpc: '2.0', id } };
    }
}

async function faucet(chain: Chain, body: Params): Promise<object> {
    let to: Address;
    try {
        to = Address.parse(String(body.address ?? '').trim());
    } catch {
        throw incorrectAddress();
    }
    const amount = parseAmount(body.amount);
    const paid = await pay(chain, to, amount);
    const balance = (await chain.account(to)).balance;
    return {
        devnet: DEVNET_WARNING,
        to: to.toString({ bounceable: false }),
        amount: amount.toString(),
        cap: FAUCET_CAP.toString(),
        balance: balance.toString(),
        seqno: paid.seqno,
        transaction_id: transactionId(paid.lt, paid.hash),
    };
}

/** The request handler for node:http's createServer. */
export function handler(ctx: Context): (req: IncomingMessage, res: ServerResponse) => void {
    return (req, res) => {
        const started = Date.now();
        let rpc = '';
        let url: URL;
        try {
            url = new URL(req.url ?? '/', 'http://127.0.0.1');
        } catch {
            url = new URL('http://127.0.0.1/');
        }
        route(ctx, req, url, (s) => (rpc = s))
            .catch(fail)
            .then((a) => {
                const text = JSON.stringify(a.body);
                const closing = a.status === 413;
                res.writeHead(a.status, {
                    'content-type': 'application/json',
                    'content-length': Buffer.byteLength(text),
                    ...(closing ? { connection: 'close' } : {}),
                });
                res.end(text);
                ctx.log(`${req.method} ${url.pathname}${rpc ? ` ${rpc}` : ''} -> ${a.status} (${Date.now() - started} ms)`);
            })
            .catch((e) => ctx.log(`response failed: ${errorMessage(e)}`));
    };
}
