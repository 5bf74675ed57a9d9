/**
 * Two Serf nodes in one process, on free loopback ports: join, a user event, a query with a
 * response, then a graceful leave. In production each node runs on its own host; the API is the
 * same. Run: `npm run build && node dist/examples/two-nodes.js`.
 */

import { createLineLogger, Serf } from '../src/index.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

// Node names must be unique in a cluster: a duplicate loses the name-conflict vote and shuts down.
// Libraries are silent by default; pass a logger to see what the node does.
const web1 = await Serf.create(
  { nodeName: 'web-1', tags: { role: 'web' }, memberlist: { bindAddr: '127.0.0.1', bindPort: 0 } },
  { logger: createLineLogger('warn') },
);
const web2 = await Serf.create({
  nodeName: 'web-2',
  tags: { role: 'web' },
  memberlist: { bindAddr: '127.0.0.1', bindPort: 0 },
});

web2.onEvent((event) => {
  if (event.type === 'user') console.log(`web-2 got event ${event.name}: ${decoder.decode(event.payload)}`);
  if (event.type === 'query' && event.name === 'ping') void event.respond(encoder.encode('pong'));
});

const contacted = await web2.join([`127.0.0.1:${web1.localMember().port}`]);
console.log(`web-2 joined through ${contacted} node(s)`);

await web1.userEvent('deploy', encoder.encode('v42'), { coalesce: false });

for await (const reply of web1.query('ping', null, { requestAck: true, timeoutMs: 1_000 })) {
  const payload = reply.type === 'response' ? `: ${decoder.decode(reply.payload)}` : '';
  console.log(`${reply.type} from ${reply.from}${payload}`);
}

await web2.leave();
await web2.shutdown();
while (web1.members().find((m) => m.name === 'web-2')?.status !== 'left') {
  await new Promise((resolve) => setTimeout(resolve, 100));
}
console.log(
  web1
    .members()
    .map((m) => `${m.name} ${m.status}`)
    .join(', '),
);
await web1.leave();
await web1.shutdown();
