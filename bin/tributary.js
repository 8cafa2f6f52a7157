#!/usr/bin/env node
// Entry point. From a checkout it runs the TypeScript sources directly (Node
// >= 22.18 strips types); a build (the container image, `npm run build`)
// ships dist/ without src/, and runs the compiled JavaScript. Setting
// TRIBUTARY_DIST=1 runs an existing build from a checkout (benchmarks).
import { existsSync } from 'node:fs';
import module from 'node:module';

// Cache compiled code between starts (in the OS temp dir, or NODE_COMPILE_CACHE):
// measured here it cuts ~15-25% off the time to /readyz. Silently off where the
// directory is not writable.
module.enableCompileCache?.();

const source = new URL('../src/cli/main.ts', import.meta.url);
const compiled = new URL('../dist/src/cli/main.js', import.meta.url);
const useBuild = !existsSync(source) || (process.env.TRIBUTARY_DIST === '1' && existsSync(compiled));
const { main } = await import((useBuild ? compiled : source).href);
const code = await main(process.argv.slice(2));
process.exit(code);
