// The compiled contract codes, read from build/*.json (written by scripts/build.ts).
import { Cell } from '@ton/core';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** The four contracts' code cells. */
export interface Codes {
    root: Cell;
    proxy: Cell;
    client: Cell;
    worker: Cell;
}

/** Loads the committed build of each contract. */
export function loadCodes(buildDir: string = join(__dirname, '..', 'build')): Codes {
    const load = (name: string) => {
        const json = JSON.parse(readFileSync(join(buildDir, `${name}.json`), 'utf-8'));
        return Cell.fromBase64(json.codeBoc64);
    };
    return { root: load('root'), proxy: load('proxy'), client: load('client'), worker: load('worker') };
}
