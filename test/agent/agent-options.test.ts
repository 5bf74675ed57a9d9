import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Agent } from '../../src/agent/agent.js';
import { defaultAgentConfig } from '../../src/agent/config.js';

describe('Agent.serfOptions', () => {
  it('maps agent settings onto Serf options', () => {
    const config = {
      ...defaultAgentConfig(),
      nodeName: 'n1',
      bind: '127.0.0.5:17946',
      advertise: '10.1.2.3',
      protocol: 4,
      profile: 'wan',
      enableCompression: false,
      disableNameResolution: true,
    };
    const o = Agent.serfOptions(config, { role: 'db' });
    assert.equal(o.nodeName, 'n1');
    assert.equal(o.protocolVersion, 4);
    assert.equal(o.profile, 'wan');
    assert.deepEqual(o.tags, { role: 'db' });
    assert.equal(o.memberlist.bindAddr, '127.0.0.5');
    assert.equal(o.memberlist.bindPort, 17946);
    assert.equal(o.memberlist.advertiseAddr, '10.1.2.3');
    assert.equal(o.memberlist.advertisePort, 17946);
    assert.equal(o.memberlist.enableCompression, false);
    assert.equal(o.enableNameConflictResolution, false);
    assert.equal(o.coalescePeriodMs, 3_000, 'agent coalescing defaults');
  });

  it('-iface picks the interface address for 0.0.0.0', () => {
    const config = { ...defaultAgentConfig(), nodeName: 'n1', bind: '0.0.0.0:7946', interface: 'lo' };
    assert.equal(Agent.serfOptions(config, {}).memberlist.bindAddr, '127.0.0.1');
    assert.throws(
      () => Agent.serfOptions({ ...config, interface: 'no-such-if0' }, {}),
      /Invalid interface: no-such-if0 does not exist/,
    );
  });

  it('protocol outside 2..5 names the range', () => {
    const config = { ...defaultAgentConfig(), nodeName: 'n1' };
    assert.throws(
      () => Agent.serfOptions({ ...config, protocol: 1 }, {}),
      /Protocol version '1' too low. Must be in range: \[2, 5\]/,
    );
    assert.throws(() => Agent.serfOptions({ ...config, protocol: 6 }, {}), /Protocol version '6' too high/);
  });
});
