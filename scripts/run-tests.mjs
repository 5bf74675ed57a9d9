#!/usr/bin/env node
// Runs every compiled test file under dist/test with node's built-in test runner: unit and
// in-memory tests two files at a time, then the interop tests (which start reference Go agents
// and depend on real timing) one file at a time, so they do not compete for the CPU.
// `--skip-interop` leaves the interop tests out; `npm test` and CI always run them.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

const skipInterop = process.argv.includes('--skip-interop');
const root = 'dist/test';
const all = readdirSync(root, { recursive: true })
  .map(String)
  .filter((f) => f.endsWith('.test.js'))
  .sort();
const local = all.filter((f) => !f.startsWith('interop')).map((f) => join(root, f));
const interop = all.filter((f) => f.startsWith('interop')).map((f) => join(root, f));

if (local.length === 0) {
  console.error(`run-tests: no test files found under ${root}; did the build run?`);
  process.exit(1);
}

function run(files, concurrency) {
  const result = spawnSync(
    process.execPath,
    ['--test', '--throw-deprecation', `--test-concurrency=${concurrency}`, '--test-timeout=300000', ...files],
    { stdio: 'inherit' },
  );
  return result.status ?? 1;
}

let status = run(local, 2);
if (!skipInterop) status = run(interop, 1) || status;
process.exit(status);
