/**
 * `statsd_addr` and `statsite_addr`: a serf-ts agent streams counters and gauges to a statsd UDP
 * socket and a statsite TCP listener that the test runs on 127.0.0.1.
 */

import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { createServer, type Socket } from 'node:net';
import { after, describe, it } from 'node:test';
import { cleanupAgents, ReferenceAgent } from '../helpers/reference.js';
import { waitFor } from '../helpers/wait.js';

after(cleanupAgents);

describe('agent telemetry', () => {
  it('counters reach statsd and statsite', async () => {
    const udpLines: string[] = [];
    const udp = createSocket('udp4');
    udp.on('message', (msg) => udpLines.push(...msg.toString('utf8').split('\n').filter(Boolean)));
    await new Promise<void>((resolve) => udp.bind(0, '127.0.0.1', resolve));

    let tcpText = '';
    const conns: Socket[] = [];
    const tcp = createServer((socket) => {
      conns.push(socket);
      socket.on('data', (chunk) => {
        tcpText += chunk.toString('utf8');
      });
    });
    await new Promise<void>((resolve) => tcp.listen(0, '127.0.0.1', resolve));
    const tcpPort = (tcp.address() as { port: number }).port;

    try {
      const agent = await ReferenceAgent.start({
        name: 'metrics-1',
        implementation: 'serf-ts',
        config: {
          statsd_addr: `127.0.0.1:${udp.address().port}`,
          statsite_addr: `127.0.0.1:${tcpPort}`,
        },
      });
      assert.equal((await agent.cli(['event', '-coalesce=false', 'measured'])).code, 0);
      await waitFor(() => udpLines.includes('serf-agent.serf.events:1|c'), {
        timeoutMs: 15_000,
        message: 'statsd receives the user event counter',
      });
      assert.ok(udpLines.includes('serf-agent.serf.member.join:1|c'), udpLines.join('\n'));
      await waitFor(() => tcpText.includes('serf-agent.serf.events:1|c'), {
        timeoutMs: 15_000,
        message: 'statsite receives the user event counter',
      });
      await waitFor(() => /serf-agent\.serf\.members:1\|g/.test(udpLines.join('\n')), {
        timeoutMs: 20_000,
        message: 'statsd receives the member gauge',
      });
    } finally {
      udp.close();
      for (const c of conns) c.destroy();
      tcp.close();
    }
  });
});
