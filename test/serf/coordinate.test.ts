import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import {
  type Coordinate,
  CoordinateClient,
  DEFAULT_COORDINATE_CONFIG,
  decodePingPayload,
  distanceSeconds,
  encodePingPayload,
  isValidCoordinate,
  newCoordinate,
} from '../../src/serf/coordinate.js';
import { DecodeError, InvalidArgumentError } from '../../src/util/errors.js';
import { SeededRng } from '../../src/util/rng.js';
import { hex, loadVectors, toHex } from '../helpers/vectors.js';

/** The ack payload of a node that has not measured anything yet, as a Go agent sends it. */
const FRESH_PAYLOAD_HEX =
  '0184aa41646a7573746d656e74cb0000000000000000a54572726f72cb3ff8000000000000' +
  'a6486569676874cb3ee4f8b588e368f1a356656398' +
  'cb0000000000000000'.repeat(8);

interface CapturedPayload {
  entryId: string;
  hex: string;
  decoded: {
    ping_version: number;
    coordinate: { Adjustment: number; Error: number; Height: number; Vec: number[] };
  };
}

/** Collects every ack `Payload` that the capture tooling decoded as a coordinate. */
function capturedAckPayloads(): CapturedPayload[] {
  const found: CapturedPayload[] = [];
  const walk = (node: unknown, entryId: string): void => {
    if (Array.isArray(node)) {
      for (const item of node) walk(item, entryId);
      return;
    }
    if (node === null || typeof node !== 'object') return;
    const record = node as Record<string, unknown>;
    const decoded = record.Payload_decoded as CapturedPayload['decoded'] | undefined;
    const payload = record.Payload as { hex?: string } | undefined;
    if (decoded?.coordinate !== undefined && typeof payload?.hex === 'string') {
      found.push({ entryId, hex: payload.hex, decoded });
    }
    for (const value of Object.values(record)) walk(value, entryId);
  };
  for (const entry of loadVectors('gossip-plain').entries) walk(entry, entry.id);
  return found;
}

function coordinate(vec: number[], height = 0, adjustment = 0, error = 1.5): Coordinate {
  return { vec, error, adjustment, height };
}

describe('ping payload', () => {
  test('fresh coordinate encodes byte for byte', () => {
    assert.equal(toHex(encodePingPayload(newCoordinate())), FRESH_PAYLOAD_HEX);
  });

  test('fresh payload decodes to the defaults', () => {
    const c = decodePingPayload(hex(FRESH_PAYLOAD_HEX));
    assert.deepEqual(c, { vec: [0, 0, 0, 0, 0, 0, 0, 0], error: 1.5, adjustment: 0, height: 1e-5 });
  });

  test('integral values still encode as float64', () => {
    const bytes = encodePingPayload(coordinate([1, 2], 3, 4, 5));
    assert.equal(
      toHex(bytes),
      '0184aa41646a7573746d656e74cb4010000000000000a54572726f72cb4014000000000000' +
        'a6486569676874cb4008000000000000a356656392cb3ff0000000000000cb4000000000000000',
    );
  });

  const captured = capturedAckPayloads();

  test('captures contain ack payloads', () => {
    assert.ok(captured.length >= 10, `expected at least 10 captured ack payloads, found ${captured.length}`);
  });

  for (const [i, payload] of captured.entries()) {
    test(`captured ack payload ${i} (${payload.entryId}) round trip`, () => {
      const bytes = hex(payload.hex);
      const c = decodePingPayload(bytes);
      const expected = payload.decoded.coordinate;
      assert.equal(payload.decoded.ping_version, 1);
      assert.equal(c.adjustment, expected.Adjustment);
      assert.equal(c.error, expected.Error);
      assert.equal(c.height, expected.Height);
      assert.deepEqual(c.vec, expected.Vec);
      assert.ok(isValidCoordinate(c, 8));
      assert.equal(toHex(encodePingPayload(c)), payload.hex);
    });
  }

  test('version other than 1 is rejected', () => {
    const bytes = hex(FRESH_PAYLOAD_HEX);
    bytes[0] = 2;
    assert.throws(() => decodePingPayload(bytes), {
      name: 'DecodeError',
      message: 'Unsupported ping version: 2',
    });
  });

  test('empty payload is rejected', () => {
    assert.throws(() => decodePingPayload(new Uint8Array(0)), DecodeError);
  });

  test('non-map body is rejected', () => {
    assert.throws(() => decodePingPayload(hex('01 93 01 02 03')), DecodeError);
  });

  test('non-numeric Vec element is rejected', () => {
    // {Vec: ["a"]}
    assert.throws(() => decodePingPayload(hex('01 81 a3566563 91 a161')), DecodeError);
  });

  test('truncated body is rejected', () => {
    const bytes = hex(FRESH_PAYLOAD_HEX);
    assert.throws(() => decodePingPayload(bytes.subarray(0, bytes.length - 3)), DecodeError);
  });

  test('missing fields decode as zero', () => {
    // {Error: 0.5}
    const c = decodePingPayload(hex('01 81 a54572726f72 cb3fe0000000000000'));
    assert.deepEqual(c, { vec: [], error: 0.5, adjustment: 0, height: 0 });
  });

  test('arbitrary bytes throw only DecodeError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 120 }), fc.boolean(), (bytes, forceVersion) => {
        const input = forceVersion && bytes.length > 0 ? Uint8Array.of(1, ...bytes.subarray(1)) : bytes;
        try {
          decodePingPayload(input);
        } catch (err) {
          return err instanceof DecodeError;
        }
        return true;
      }),
      { numRuns: 2000 },
    );
  });

  test('mutated fresh payload throws only DecodeError', () => {
    const base = hex(FRESH_PAYLOAD_HEX);
    fc.assert(
      fc.property(fc.nat(base.length - 1), fc.integer({ min: 0, max: 255 }), (index, value) => {
        const bytes = base.slice();
        bytes[index] = value;
        try {
          decodePingPayload(bytes);
        } catch (err) {
          return err instanceof DecodeError;
        }
        return true;
      }),
      { numRuns: 2000 },
    );
  });
});

describe('distanceSeconds', () => {
  test('euclidean distance plus heights', () => {
    assert.equal(distanceSeconds(coordinate([0, 0]), coordinate([3, 4])), 5);
    assert.equal(distanceSeconds(coordinate([0, 0], 0.5), coordinate([3, 4], 0.25)), 5.75);
  });

  test('positive adjustments are added', () => {
    assert.equal(distanceSeconds(coordinate([0, 0], 0, 0.5), coordinate([3, 4], 0, 0.25)), 5.75);
  });

  test('negative adjustments are subtracted while the result stays positive', () => {
    assert.equal(distanceSeconds(coordinate([0, 0], 0, -1), coordinate([3, 4], 0, -2)), 2);
  });

  test('adjusted distance that is not positive falls back to raw', () => {
    assert.equal(distanceSeconds(coordinate([0, 0], 0, -3), coordinate([3, 4], 0, -2)), 5);
    assert.equal(distanceSeconds(coordinate([0, 0], 0, -10), coordinate([3, 4], 0, -2)), 5);
  });

  test('is symmetric', () => {
    const a = coordinate([0.1, -0.2, 0.3], 0.01, 0.002);
    const b = coordinate([-0.4, 0.5, 0.05], 0.02, -0.001);
    assert.equal(distanceSeconds(a, b), distanceSeconds(b, a));
  });

  test('fresh coordinates are two minimum heights apart', () => {
    assert.equal(distanceSeconds(newCoordinate(), newCoordinate()), 2e-5);
  });

  test('different dimensionality is rejected', () => {
    assert.throws(() => distanceSeconds(coordinate([0]), coordinate([0, 0])), InvalidArgumentError);
  });
});

describe('isValidCoordinate', () => {
  test('accepts a fresh coordinate', () => {
    assert.equal(isValidCoordinate(newCoordinate()), true);
    assert.equal(isValidCoordinate(newCoordinate(), 8), true);
  });

  test('checks dimensionality when given', () => {
    assert.equal(isValidCoordinate(newCoordinate(), 3), false);
  });

  test('rejects non-finite components', () => {
    assert.equal(isValidCoordinate(coordinate([0, Number.NaN])), false);
    assert.equal(isValidCoordinate(coordinate([0, Number.POSITIVE_INFINITY])), false);
    assert.equal(isValidCoordinate(coordinate([0, 0], Number.NaN)), false);
    assert.equal(isValidCoordinate(coordinate([0, 0], 0, Number.NEGATIVE_INFINITY)), false);
    assert.equal(isValidCoordinate(coordinate([0, 0], 0, 0, Number.NaN)), false);
  });
});

describe('CoordinateClient', () => {
  test('starts at a fresh coordinate', () => {
    const client = new CoordinateClient();
    assert.deepEqual(client.getCoordinate(), newCoordinate());
    assert.equal(client.resets, 0);
  });

  test('getCoordinate returns a copy', () => {
    const client = new CoordinateClient();
    const c = client.getCoordinate();
    c.vec[0] = 42;
    c.height = 7;
    assert.equal(client.getCoordinate().vec[0], 0);
    assert.equal(client.getCoordinate().height, 1e-5);
  });

  test('NaN coordinate is rejected', () => {
    const client = new CoordinateClient();
    const bad = newCoordinate();
    bad.vec[3] = Number.NaN;
    assert.throws(() => client.update('peer', bad, 0.01), InvalidArgumentError);
    const badError = newCoordinate();
    badError.error = Number.NaN;
    assert.throws(() => client.update('peer', badError, 0.01), InvalidArgumentError);
    assert.deepEqual(client.getCoordinate(), newCoordinate());
  });

  test('wrong dimensionality is rejected', () => {
    const client = new CoordinateClient();
    assert.throws(() => client.update('peer', coordinate([0, 0, 0]), 0.01), /3 dimensions; expected 8/);
  });

  test('RTT outside 0..10 s is rejected', () => {
    const client = new CoordinateClient();
    assert.throws(() => client.update('peer', newCoordinate(), -0.001), InvalidArgumentError);
    assert.throws(() => client.update('peer', newCoordinate(), 10.001), InvalidArgumentError);
    assert.throws(() => client.update('peer', newCoordinate(), Number.NaN), InvalidArgumentError);
    assert.doesNotThrow(() => client.update('peer', newCoordinate(), 0));
    assert.doesNotThrow(() => client.update('peer', newCoordinate(), 10));
  });

  test('first update moves a fresh node away from a fresh peer', () => {
    const client = new CoordinateClient(DEFAULT_COORDINATE_CONFIG, new SeededRng(1));
    const c = client.update('peer', newCoordinate(), 0.01);
    // Both start at the origin, so the direction is random but the step size is fixed:
    // weight 0.5, force = 0.25 × 0.5 × (0.01 − 2e-5); gravity then shrinks it by (d/150)^2, a
    // change far below the tolerance used here.
    const expectedStep = 0.25 * 0.5 * (0.01 - 2e-5);
    const length = Math.hypot(...c.vec);
    assert.ok(Math.abs(length - expectedStep) < 1e-9, `moved ${length} s, expected ${expectedStep} s`);
    // The height does not change when the points coincide.
    assert.equal(c.height, 1e-5);
    // wrongness = |2e-5 − 0.01| / 0.01; error = 0.25 × 0.5 × wrongness + 1.5 × (1 − 0.125).
    const wrongness = (0.01 - 2e-5) / 0.01;
    assert.ok(Math.abs(c.error - (0.125 * wrongness + 1.5 * 0.875)) < 1e-12);
    // Adjustment: one sample of (rtt − raw distance after the Vivaldi step) over a window of 20, halved.
    const raw = expectedStep + 2e-5;
    assert.ok(Math.abs(c.adjustment - (0.01 - raw) / 40) < 1e-12);
  });

  test('same seed gives the same coordinate', () => {
    const run = () => {
      const client = new CoordinateClient(DEFAULT_COORDINATE_CONFIG, new SeededRng(7));
      client.update('a', newCoordinate(), 0.02);
      return client.update('b', newCoordinate(), 0.03);
    };
    assert.deepEqual(run(), run());
  });

  test('latency filter uses the median of the last three samples', () => {
    // A client whose update only reflects the filtered RTT: with CC = 0 the position never moves,
    // so the adjustment (window 1) is half of (filtered rtt − raw distance).
    const config = { ...DEFAULT_COORDINATE_CONFIG, vivaldiCC: 0, adjustmentWindowSize: 1, gravityRho: 1e12 };
    const client = new CoordinateClient(config, new SeededRng(3));
    const peer = newCoordinate(config);
    const raw = 2e-5;
    const filtered = (rtt: number) => (client.update('peer', peer, rtt).adjustment * 2 + raw).toFixed(9);
    assert.equal(filtered(0.1), '0.100000000');
    // Samples [0.1, 0.3]: the upper middle.
    assert.equal(filtered(0.3), '0.300000000');
    // Samples [0.1, 0.3, 0.2]: the median.
    assert.equal(filtered(0.2), '0.200000000');
    // Samples [0.3, 0.2, 5]: the oldest sample is gone.
    assert.equal(filtered(5), '0.300000000');
    // Another node has its own window.
    assert.equal((client.update('other', peer, 0.05).adjustment * 2 + raw).toFixed(9), '0.050000000');
  });

  test('forgetNode drops the latency samples', () => {
    const config = { ...DEFAULT_COORDINATE_CONFIG, vivaldiCC: 0, adjustmentWindowSize: 1, gravityRho: 1e12 };
    const client = new CoordinateClient(config, new SeededRng(3));
    const peer = newCoordinate(config);
    client.update('peer', peer, 0.4);
    client.update('peer', peer, 0.4);
    client.forgetNode('peer');
    const c = client.update('peer', peer, 0.1);
    assert.equal((c.adjustment * 2 + 2e-5).toFixed(9), '0.100000000');
  });

  test('non-finite result resets and is counted', () => {
    // A peer far out with an enormous height makes the height update overflow to Infinity.
    const client = new CoordinateClient(DEFAULT_COORDINATE_CONFIG, new SeededRng(5));
    const huge = coordinate([1e300, 1e300, 0, 0, 0, 0, 0, 0], 1e308, 0, 1.5);
    const c = client.update('far', huge, 0.01);
    assert.equal(client.resets, 1);
    assert.deepEqual(c, newCoordinate());
    assert.deepEqual(client.getCoordinate(), newCoordinate());
    client.update('far', huge, 0.01);
    assert.equal(client.resets, 2);
  });

  test('four nodes on a line converge to the true RTTs', () => {
    // Nodes at 0, 10, 20 and 30 ms along a line; the RTT between two nodes is their distance.
    const positions = [0, 0.01, 0.02, 0.03];
    const rng = new SeededRng(42);
    const clients = positions.map(() => new CoordinateClient(DEFAULT_COORDINATE_CONFIG, rng));
    const names = positions.map((_, i) => `node-${i}`);
    for (let round = 0; round < 400; round++) {
      for (let i = 0; i < clients.length; i++) {
        const j = (i + 1 + Math.floor(rng.next() * (clients.length - 1))) % clients.length;
        const rtt = Math.abs(positions[i]! - positions[j]!);
        clients[i]!.update(names[j]!, clients[j]!.getCoordinate(), rtt);
      }
    }
    for (let i = 0; i < clients.length; i++) {
      for (let j = i + 1; j < clients.length; j++) {
        const truth = Math.abs(positions[i]! - positions[j]!);
        const estimate = distanceSeconds(clients[i]!.getCoordinate(), clients[j]!.getCoordinate());
        const relative = Math.abs(estimate - truth) / truth;
        assert.ok(
          relative < 0.2,
          `node-${i} <-> node-${j}: estimated ${(estimate * 1000).toFixed(3)} ms, true ${truth * 1000} ms`,
        );
      }
    }
    for (const client of clients) {
      assert.equal(client.resets, 0);
      assert.ok(client.getCoordinate().error < 0.5, `error ${client.getCoordinate().error} did not fall`);
    }
  });

  test('invalid config is rejected', () => {
    assert.throws(
      () => new CoordinateClient({ ...DEFAULT_COORDINATE_CONFIG, dimensionality: 0 }),
      InvalidArgumentError,
    );
    assert.throws(
      () => new CoordinateClient({ ...DEFAULT_COORDINATE_CONFIG, gravityRho: 0 }),
      InvalidArgumentError,
    );
  });
});
