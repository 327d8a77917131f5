/**
 * TVM stacks in toncenter's v2 JSON format, both ways.
 *
 * In (runGetMethod's `stack` parameter), as toncenter accepts it:
 *   ["num", 5] | ["num", "5"] | ["num", "0x1f"] | ["num", "-0x1f"]
 *   ["cell", "<boc b64>"] | ["cell", {bytes: "<boc b64>"}] | ["tvm.Cell", "<boc b64>"]
 *   ["slice", ...] | ["tvm.Slice", ...] | ["builder", ...] | ["tvm.Builder", ...] | ["null"]
 * Out, as toncenter serves it (tonlib's entries rendered by pytonlib):
 *   ints as ["num", "0x.."] (negative "-0x.."), cells and slices as ["cell", {bytes}],
 *   null as ["list", {"@type": "tvm.list", elements: []}], tuples as
 *   ["tuple", {"@type": "tvm.tuple", elements: [tvm.stackEntry*...]}].
 */

import { Cell, type TupleItem } from '@ton/core';
import { badRequest } from './errors';

/** A stack entry in toncenter's JSON. */
export type JsonStackEntry = [string, unknown];

/** Parses toncenter's stack parameter; a malformed entry is a 400. */
export function parseStack(raw: unknown): TupleItem[] {
    if (raw === undefined || raw === null || raw === '') return [];
    let value = raw;
    if (typeof value === 'string') {
        try {
            value = JSON.parse(value);
        } catch {
            throw badRequest('stack: not JSON');
        }
    }
    if (!Array.isArray(value)) throw badRequest('stack: expected an array of [type, value] entries');
    return value.map((entry, i) => parseEntry(entry, i));
}

function parseEntry(entry: unknown, i: number): TupleItem {
    if (!Array.isArray(entry) || entry.length < 1 || typeof entry[0] !== 'string') {
        throw badRequest(`stack[${i}]: expected [type, value]`);
    }
    const [kind, value] = entry as [string, unknown];
    switch (kind) {
        case 'num':
        case 'number':
        case 'int':
            return { type: 'int', value: parseNumber(value, i) };
        case 'cell':
        case 'tvm.Cell':
            return { type: 'cell', cell: parseCell(value, i) };
        case 'slice':
        case 'tvm.Slice':
            return { type: 'slice', cell: parseCell(value, i) };
        case 'builder':
        case 'tvm.Builder':
            return { type: 'builder', cell: parseCell(value, i) };
        case 'null':
            return { type: 'null' };
        default:
            throw badRequest(`stack[${i}]: unsupported entry type "${kind}"`);
    }
}

function parseNumber(value: unknown, i: number): bigint {
    if (typeof value === 'number' && Number.isSafeInteger(value)) return BigInt(value);
    if (typeof value === 'string') {
        const s = value.trim();
        const neg = s.startsWith('-');
        const body = neg ? s.slice(1) : s;
        if (/^0x[0-9a-fA-F]+$/.test(body) || /^[0-9]+$/.test(body)) {
            const n = BigInt(body);
            return neg ? -n : n;
        }
    }
    throw badRequest(`stack[${i}]: not an integer: ${JSON.stringify(value)}`);
}

function parseCell(value: unknown, i: number): Cell {
    const b64 =
        typeof value === 'string'
            ? value
            : value !== null && typeof value === 'object' && typeof (value as { bytes?: unknown }).bytes === 'string'
              ? (value as { bytes: string }).bytes
              : undefined;
    if (b64 === undefined) throw badRequest(`stack[${i}]: expected a base64 BOC or {bytes}`);
    return cellFromBase64(b64, `stack[${i}]`);
}

/** One root cell from a base64 BOC; anything else is a 400 naming `what`. */
export function cellFromBase64(b64: string, what: string): Cell {
    let cells: Cell[];
    try {
        cells = Cell.fromBoc(Buffer.from(b64, 'base64'));
    } catch (e) {
        throw badRequest(`${what}: not a valid BOC (${e instanceof Error ? e.message : String(e)})`);
    }
    if (cells.length !== 1) throw badRequest(`${what}: expected one root cell, got ${cells.length}`);
    return cells[0];
}

/** A stack in toncenter's output format. */
export function renderStack(items: TupleItem[]): JsonStackEntry[] {
    return items.map(renderTop);
}

function hex(n: bigint): string {
    return n < 0n ? `-0x${(-n).toString(16)}` : `0x${n.toString(16)}`;
}

function boc(cell: Cell): string {
    return cell.toBoc({ idx: false }).toString('base64');
}

function renderTop(item: TupleItem): JsonStackEntry {
    switch (item.type) {
        case 'int':
            return ['num', hex(item.value)];
        case 'nan':
            return ['num', 'NaN'];
        case 'cell':
        case 'slice':
        case 'builder':
            return ['cell', { bytes: boc(item.cell) }];
        case 'null':
            return ['list', { '@type': 'tvm.list', elements: [] }];
        case 'tuple':
            return ['tuple', { '@type': 'tvm.tuple', elements: item.items.map(renderNested) }];
    }
}

/** Entries inside tuples keep tonlib's typed form. */
function renderNested(item: TupleItem): object {
    switch (item.type) {
        case 'int':
            return {
                '@type': 'tvm.stackEntryNumber',
                number: { '@type': 'tvm.numberDecimal', number: item.value.toString() },
            };
        case 'nan':
            return { '@type': 'tvm.stackEntryNumber', number: { '@type': 'tvm.numberDecimal', number: 'NaN' } };
        case 'cell':
        case 'builder':
            return { '@type': 'tvm.stackEntryCell', cell: { '@type': 'tvm.cell', bytes: boc(item.cell) } };
        case 'slice':
            return { '@type': 'tvm.stackEntrySlice', slice: { '@type': 'tvm.slice', bytes: boc(item.cell) } };
        case 'null':
            return { '@type': 'tvm.stackEntryList', list: { '@type': 'tvm.list', elements: [] } };
        case 'tuple':
            return {
                '@type': 'tvm.stackEntryTuple',
                tuple: { '@type': 'tvm.tuple', elements: item.items.map(renderNested) },
            };
    }
}
