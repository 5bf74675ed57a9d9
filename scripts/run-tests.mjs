#!/usr/bin/env node
// Runs every compiled test file under dist/test with node's built-in test runner.
// `--skip-interop` leaves out test/interop (the tests that start the reference Go agent);
// `npm test` and CI always run them.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

const skipInterop = process.argv.includes('--skip-interop');
const root = 'dist/test';
const files = readdirSync(root, { recursive: true })
  .map(String)
  .filter((f) => f.endsWith('.test.js'))
  .filter((f) => !(skipInterop && f.startsWith('interop')))
  .sort()
  .map((f) => join(root, f));

if (files.length === 0) {
  console.error(`run-tests: no test files found under ${root}; did the build run?`);
  process.exit(1);
}

const result = spawnSync(
  process.execPath,
  ['--test', '--throw-deprecation', '--test-concurrency=2', '--test-timeout=300000', ...files],
  { stdio: 'inherit' },
);
process.exit(result.status ?? 1);
