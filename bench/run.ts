/**
 * Benchmarks: codec and crypto throughput in-process, then serf-ts agents against reference Go
 * agents in the same run (start-up memory, RPC round trip, cluster convergence), reported as
 * ratios. Run with `npm run bench`; traffic stays on 127.0.0.1.
 */

import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { RpcClient } from '../src/client/rpc-client.js';
import { lzwCompress, lzwDecompress } from '../src/codec/lzw.js';
import { decodeMessage, encodeMessage } from '../src/codec/messages.js';
import { decryptPayload, encryptPayload } from '../src/security/aes-gcm.js';
import { cleanupAgents, ReferenceAgent } from '../test/helpers/reference.js';
import { waitFor } from '../test/helpers/wait.js';

interface Row {
  name: string;
  serfTs: number;
  reference?: number;
  unit: string;
}

const rows: Row[] = [];

function throughput(name: string, iterations: number, fn: () => void): void {
  for (let i = 0; i < Math.min(1000, iterations); i++) fn();
  const start = performance.now();
  for (let i = 0; i < iterations; i++) fn();
  const seconds = (performance.now() - start) / 1000;
  rows.push({ name, serfTs: Math.round(iterations / seconds), unit: 'ops/s' });
}

function codecBenchmarks(): void {
  const alive = encodeMessage({
    type: 'alive',
    body: {
      incarnation: 7,
      node: 'node-42.example',
      addr: Uint8Array.of(127, 0, 0, 1),
      port: 7946,
      meta: Uint8Array.of(0xff, 0x81, 0xa4, 0x72, 0x6f, 0x6c, 0x65, 0xa3, 0x77, 0x65, 0x62),
      vsn: Uint8Array.of(1, 5, 2, 2, 5, 5),
    },
  });
  throughput('memberlist alive encode + decode', 200_000, () => {
    decodeMessage(encodeMessage(decodeMessage(alive)));
  });

  const packet = new Uint8Array(1400);
  for (let i = 0; i < packet.length; i++) packet[i] = (i * 7) % 64;
  const compressed = lzwCompress(packet);
  throughput('LZW compress 1400-byte packet', 20_000, () => {
    lzwCompress(packet);
  });
  throughput('LZW decompress 1400-byte packet', 20_000, () => {
    lzwDecompress(compressed, 1 << 20);
  });

  const key = new Uint8Array(32).fill(3);
  const sealed = encryptPayload(1, key, packet);
  throughput('AES-256-GCM seal 1400 bytes', 50_000, () => {
    encryptPayload(1, key, packet);
  });
  throughput('AES-256-GCM open 1400 bytes (2-key ring)', 50_000, () => {
    decryptPayload([new Uint8Array(32).fill(9), key], sealed);
  });
}

function rssKiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = /VmRSS:\s+(\d+) kB/.exec(status);
  return match ? Number(match[1]) : Number.NaN;
}

async function rpcRoundTrip(agent: ReferenceAgent, calls: number): Promise<number> {
  const client = await RpcClient.connect(agent.rpcAddr);
  try {
    for (let i = 0; i < 20; i++) await client.members();
    const start = performance.now();
    for (let i = 0; i < calls; i++) await client.members();
    return ((performance.now() - start) / calls) * 1000;
  } finally {
    await client.close();
  }
}

async function convergence(implementation: 'serf-ts' | 'reference', prefix: string): Promise<number> {
  const seed = await ReferenceAgent.start({ name: `${prefix}-0`, implementation, profile: 'lan' });
  const others = await Promise.all(
    [1, 2, 3, 4].map((i) => ReferenceAgent.start({ name: `${prefix}-${i}`, implementation, profile: 'lan' })),
  );
  const start = performance.now();
  await Promise.all(others.map((o) => o.cli(['join', seed.gossipAddr])));
  await waitFor(
    async () => {
      const lists = await Promise.all([seed, ...others].map((a) => a.members()));
      return lists.every((l) => l.filter((m) => m.status === 'alive').length === 5);
    },
    { timeoutMs: 60_000, intervalMs: 20, message: `${prefix} cluster converges` },
  );
  const ms = performance.now() - start;
  for (const a of [seed, ...others]) await a.kill();
  return ms;
}

async function agentBenchmarks(): Promise<void> {
  const ts = await ReferenceAgent.start({ name: 'bench-ts', implementation: 'serf-ts', profile: 'lan' });
  const go = await ReferenceAgent.start({ name: 'bench-go', implementation: 'reference', profile: 'lan' });
  rows.push({
    name: 'agent RSS after start',
    serfTs: rssKiB(ts.pid),
    reference: rssKiB(go.pid),
    unit: 'KiB',
  });
  rows.push({
    name: 'RPC members round trip',
    serfTs: Math.round(await rpcRoundTrip(ts, 500)),
    reference: Math.round(await rpcRoundTrip(go, 500)),
    unit: 'µs',
  });
  await ts.kill();
  await go.kill();

  rows.push({
    name: '5-agent cluster convergence after joins',
    serfTs: Math.round(await convergence('serf-ts', 'conv-ts')),
    reference: Math.round(await convergence('reference', 'conv-go')),
    unit: 'ms',
  });
}

function report(): void {
  console.log('| benchmark | serf-ts | reference Go | ratio (serf-ts / Go) | unit |');
  console.log('| --- | ---: | ---: | ---: | --- |');
  for (const r of rows) {
    const ratio = r.reference === undefined ? '' : (r.serfTs / r.reference).toFixed(2);
    console.log(`| ${r.name} | ${r.serfTs} | ${r.reference ?? ''} | ${ratio} | ${r.unit} |`);
  }
}

try {
  codecBenchmarks();
  await agentBenchmarks();
  report();
} finally {
  await cleanupAgents();
}
