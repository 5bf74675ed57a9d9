/**
 * Property tests: operator-supplied text (config files, snapshot files, flags) never makes the
 * parsers throw anything but the project's own errors.
 */

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { decodeConfigJson, parseAgentFlags } from '../../src/agent/config.js';
import { parseSnapshot } from '../../src/serf/snapshot.js';
import { SerfError } from '../../src/util/errors.js';

function onlyOwnErrors(fn: () => unknown): void {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof SerfError, `unexpected ${String(err)}`);
  }
}

const jsonLike = fc.oneof(
  fc.string(),
  fc.json(),
  fc
    .dictionary(
      fc.constantFrom(
        'node_name',
        'tags',
        'bind',
        'protocol',
        'event_handlers',
        'retry_interval',
        'encrypt_key',
        'x',
      ),
      fc.jsonValue(),
    )
    .map((o) => JSON.stringify(o)),
);

describe('operator input parsers', () => {
  it('config JSON throws only own errors', () => {
    fc.assert(
      fc.property(jsonLike, (text) => onlyOwnErrors(() => decodeConfigJson(text))),
      { numRuns: 2000 },
    );
  });

  it('agent flags throw only own errors', () => {
    const flag = fc.oneof(
      fc.string(),
      fc.constantFrom(
        '-node',
        '-bind',
        '-tag',
        '-protocol',
        '-retry-interval',
        '-join',
        '-h',
        '--',
        '-encrypt',
      ),
      fc
        .tuple(
          fc.constantFrom('-node=', '-bind=', '-tag=', '-protocol=', '-retry-interval=', '-log-level='),
          fc.string(),
        )
        .map(([a, b]) => a + b),
    );
    fc.assert(
      fc.property(fc.array(flag, { maxLength: 8 }), (argv) => onlyOwnErrors(() => parseAgentFlags(argv))),
      { numRuns: 2000 },
    );
  });

  it('snapshot parser never throws', () => {
    const line = fc.oneof(
      fc.string(),
      fc
        .tuple(
          fc.constantFrom(
            'alive: ',
            'not-alive: ',
            'clock: ',
            'event-clock: ',
            'query-clock: ',
            'leave',
            '#',
          ),
          fc.string(),
        )
        .map(([a, b]) => a + b),
    );
    fc.assert(
      fc.property(fc.array(line, { maxLength: 30 }), fc.boolean(), (lines, rejoin) => {
        const warnings: string[] = [];
        const state = parseSnapshot(`${lines.join('\n')}\n`, {
          rejoinAfterLeave: rejoin,
          onWarning: (w) => warnings.push(w),
        });
        assert.ok(state.lastClock >= 0);
        assert.ok(Number.isSafeInteger(state.lastClock));
      }),
      { numRuns: 2000 },
    );
  });
});
