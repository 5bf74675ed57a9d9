import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatLogLine } from '../../src/util/logger.js';

describe('formatLogLine', () => {
  it('uses the reference line shape', () => {
    const line = formatLogLine({
      level: 'warn',
      time: new Date(2026, 11, 4, 19, 28, 20),
      component: 'memberlist',
      msg: 'Refuting a suspect message (from: n2)',
      fields: {},
    });
    assert.equal(line, '2026/12/04 19:28:20 [WARN] memberlist: Refuting a suspect message (from: n2)');
  });

  it('escapes control characters from peers', () => {
    const line = formatLogLine({
      level: 'info',
      time: new Date(2026, 11, 4, 0, 0, 0),
      component: 'serf',
      msg: 'EventMemberJoin: evil\n    2026/12/04 00:00:00 [INFO] serf: FORGED\r\x1b[31m',
      fields: {},
    });
    assert.equal(line.split('\n').length, 1);
    assert.ok(line.endsWith('evil\\n    2026/12/04 00:00:00 [INFO] serf: FORGED\\r\\x1b[31m'), line);
  });
});
