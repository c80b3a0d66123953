#!/usr/bin/env node
// The gradc command. Model files are TypeScript, so TypeScript loading is registered first.
import { register } from 'tsx/esm/api';

register();
const { run } = await import('../compiler/cli/main.ts');
await run(process.argv.slice(2));
