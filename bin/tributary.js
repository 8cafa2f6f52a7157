#!/usr/bin/env node
// Entry point. Runs the compiled build when there is one (the container
// image), else the TypeScript sources directly (Node >= 22.18 strips types).
import { existsSync } from 'node:fs';

const compiled = new URL('../dist/src/cli/main.js', import.meta.url);
const { main } = await import(existsSync(compiled) ? compiled.href : new URL('../src/cli/main.ts', import.meta.url).href);
const code = await main(process.argv.slice(2));
process.exit(code);
