// Compiles every contract in src/ with the pinned Tolk compiler (@ton/tolk-js) and writes
// build/<name>.json: the code BOC (base64), its hash, and the compiler version.
// With --check it compiles and fails if a committed build file differs from the sources.
import { runTolkCompiler, getTolkCompilerVersion } from '@ton/tolk-js';
import { readFileSync, writeFileSync, existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';

/** The contracts and their entry points. */
export const CONTRACTS = ['root', 'proxy', 'client', 'worker'] as const;
export type ContractName = (typeof CONTRACTS)[number];

/** What a build file holds. */
export interface BuildOutput {
    name: string;
    codeBoc64: string;
    codeHashHex: string;
    tolkVersion: string;
}

const ROOT = join(__dirname, '..');
const SRC = join(ROOT, 'src');
const BUILD = join(ROOT, 'build');

/** Compiles one contract; throws with the compiler's message on an error. */
export async function compile(name: ContractName): Promise<BuildOutput> {
    const result = await runTolkCompiler({
        entrypointFileName: `${name}.tolk`,
        fsReadCallback: (path: string) => readFileSync(join(SRC, path), 'utf-8'),
        optimizationLevel: 2,
    });
    if (result.status === 'error') {
        throw new Error(`${name}.tolk: ${result.message}`);
    }
    return { name, codeBoc64: result.codeBoc64, codeHashHex: result.codeHashHex, tolkVersion: result.tolkVersion };
}

function render(out: BuildOutput): string {
    return JSON.stringify(out, null, 2) + '\n';
}

async function main() {
    const check = process.argv.includes('--check');
    console.log(`tolk ${await getTolkCompilerVersion()}${check ? ' (checking committed build files)' : ''}`);
    mkdirSync(BUILD, { recursive: true });
    let stale: string[] = [];
    for (const name of CONTRACTS) {
        const out = await compile(name);
        const path = join(BUILD, `${name}.json`);
        const text = render(out);
        if (check) {
            const committed = existsSync(path) ? readFileSync(path, 'utf-8') : '';
            if (committed !== text) stale.push(name);
        } else {
            writeFileSync(path, text);
        }
        console.log(`  ${name.padEnd(7)} code hash ${out.codeHashHex}`);
    }
    if (stale.length > 0) {
        console.error(`build files out of date for: ${stale.join(', ')}; run \`npm run build\` in contracts/ and commit build/`);
        process.exit(1);
    }
}

if (require.main === module) {
    main().catch((e) => {
        console.error(e instanceof Error ? e.message : e);
        process.exit(1);
    });
}
