#!/usr/bin/env node
// The gradc command. Model files are TypeScript: hooks that transpile them are registered first
// (bin/ts-hooks.mjs). In a checkout of gradc's repository the command runs gradc's TypeScript
// sources (resolving `gradc/...` imports to them); in an installed package, its compiled dist/.
import { existsSync } from 'node:fs';
import { register } from 'node:module';

const fromSource = existsSync(new URL('../cli/main.ts', import.meta.url));
process.setSourceMapsEnabled(true);
register('./ts-hooks.mjs', import.meta.url, {
  data: { conditions: fromSource ? ['gradc-source'] : [] },
});
const { run } = await import(fromSource ? '../cli/main.ts' : '../dist/cli/main.js');
await run(process.argv.slice(2));
