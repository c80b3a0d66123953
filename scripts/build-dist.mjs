// Builds the package's dist/: gradc's TypeScript compiled to JavaScript with declarations
// (tsconfig.build.json), and the kernel templates beside the compiled renderers.
import { execFileSync } from 'node:child_process';
import { cpSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const root = new URL('../', import.meta.url);
const dist = new URL('dist/', root);
rmSync(dist, { recursive: true, force: true });
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
execFileSync(process.execPath, [tsc, '-p', fileURLToPath(new URL('tsconfig.build.json', root))], { stdio: 'inherit' });
cpSync(new URL('templates/', root), new URL('templates/', dist), { recursive: true });
