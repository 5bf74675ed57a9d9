/**
 * Vivaldi network coordinates, as Serf carries them in memberlist ack payloads.
 *
 * Each node keeps a point in an n-dimensional Euclidean space plus a non-negative "height"
 * (the latency of its access link) and an adjustment term. The estimated round trip time between
 * two nodes is the distance between their coordinates, in seconds. Every completed probe moves
 * the local coordinate with a spring force proportional to the difference between the measured
 * and the estimated RTT (the Vivaldi algorithm), with the height, adjustment and gravity terms that
 * Serf 0.9.4 applies.
 */

import {
  decodeGossip,
  encodeGossip,
  expectMap,
  Float64,
  type GossipDecoded,
  readArray,
  readFloat,
} from '../codec/msgpack.js';
import { DecodeError, InvalidArgumentError } from '../util/errors.js';
import { mathRandom, type Rng } from '../util/rng.js';

export interface Coordinate {
  /** Position in the Euclidean part of the space, in seconds. */
  vec: number[];
  /** Confidence in the position: 0 is perfect, `vivaldiErrorMax` is no confidence. */
  error: number;
  /** Correction added to every distance, in seconds (may be negative). */
  adjustment: number;
  /** Latency of the node's own access link, in seconds (at least `heightMin`). */
  height: number;
}

export interface CoordinateConfig {
  /** Number of dimensions of `vec`. */
  dimensionality: number;
  /** Error of a fresh coordinate, and the cap on the error after an update. */
  vivaldiErrorMax: number;
  /** Weight of each new sample in the error estimate. */
  vivaldiCE: number;
  /** Fraction of the RTT error that one update moves the coordinate by. */
  vivaldiCC: number;
  /** Number of recent RTT − distance samples averaged into `adjustment` (0 turns it off). */
  adjustmentWindowSize: number;
  /** Minimum height, in seconds, and the height of a fresh coordinate. */
  heightMin: number;
  /** Number of recent RTT samples per peer whose median feeds the update. */
  latencyFilterSize: number;
  /** Distance from the origin, in seconds, at which gravity pulls with a force of 1 s. */
  gravityRho: number;
}

/** The configuration Serf 0.9.4 uses for LAN and WAN alike. */
export const DEFAULT_COORDINATE_CONFIG: CoordinateConfig = Object.freeze({
  dimensionality: 8,
  vivaldiErrorMax: 1.5,
  vivaldiCE: 0.25,
  vivaldiCC: 0.25,
  adjustmentWindowSize: 20,
  heightMin: 1.0e-5,
  latencyFilterSize: 3,
  gravityRho: 150,
});

/** Largest RTT, in seconds, that `CoordinateClient.update` accepts. */
export const MAX_RTT_SECONDS = 10;

/** The first byte of a ping/ack payload that carries a coordinate. */
export const PING_PAYLOAD_VERSION = 1;

/** Magnitudes and errors below this are treated as zero, to avoid dividing by (almost) zero. */
const ZERO_THRESHOLD = 1.0e-6;

/** Returns a coordinate at the origin with maximum error and minimum height. */
export function newCoordinate(config: CoordinateConfig = DEFAULT_COORDINATE_CONFIG): Coordinate {
  return {
    vec: new Array<number>(config.dimensionality).fill(0),
    error: config.vivaldiErrorMax,
    adjustment: 0,
    height: config.heightMin,
  };
}

function cloneCoordinate(c: Coordinate): Coordinate {
  return { vec: [...c.vec], error: c.error, adjustment: c.adjustment, height: c.height };
}

/**
 * Checks that every component is a finite number and, when `dims` is given, that `vec` has
 * exactly that many dimensions.
 */
export function isValidCoordinate(c: Coordinate, dims?: number): boolean {
  if (!Array.isArray(c.vec)) return false;
  if (dims !== undefined && c.vec.length !== dims) return false;
  for (const component of c.vec) {
    if (typeof component !== 'number' || !Number.isFinite(component)) return false;
  }
  return Number.isFinite(c.error) && Number.isFinite(c.adjustment) && Number.isFinite(c.height);
}

function magnitude(vec: readonly number[]): number {
  let sum = 0;
  for (const x of vec) sum += x * x;
  return Math.sqrt(sum);
}

/** Euclidean distance plus both heights, without the adjustment terms (seconds). */
function rawDistance(a: Coordinate, b: Coordinate): number {
  let sum = 0;
  for (let i = 0; i < a.vec.length; i++) {
    const d = a.vec[i]! - (b.vec[i] ?? 0);
    sum += d * d;
  }
  return Math.sqrt(sum) + a.height + b.height;
}

/**
 * Returns the estimated RTT between two coordinates in seconds: the raw distance plus both
 * adjustments, or the raw distance alone when the adjusted value is not positive.
 */
export function distanceSeconds(a: Coordinate, b: Coordinate): number {
  if (a.vec.length !== b.vec.length) {
    throw new InvalidArgumentError(
      `coordinates have ${a.vec.length} and ${b.vec.length} dimensions; both need the same dimensionality`,
    );
  }
  const raw = rawDistance(a, b);
  const adjusted = raw + a.adjustment + b.adjustment;
  return adjusted > 0 ? adjusted : raw;
}

/**
 * Rounds seconds toward zero to whole nanoseconds. Go Serf computes the distance inside an update
 * as a `time.Duration`, so the update does the same to follow its arithmetic.
 */
function truncateToNanoseconds(seconds: number): number {
  const nanos = Math.trunc(seconds * 1e9);
  const whole = Math.trunc(nanos / 1e9);
  return whole + (nanos - whole * 1e9) / 1e9;
}

/**
 * Tracks the local node's coordinate and updates it from RTT measurements to peers.
 * Not safe for use from several async flows that interleave inside `update` (it never awaits).
 */
export class CoordinateClient {
  readonly #config: CoordinateConfig;
  readonly #rng: Rng;
  #coord: Coordinate;
  readonly #origin: Coordinate;
  /** Ring of recent `rtt − raw distance` samples, in seconds. */
  readonly #adjustmentSamples: number[];
  #adjustmentIndex = 0;
  /** Recent RTT samples per peer, oldest first, in seconds. */
  readonly #latencySamples = new Map<string, number[]>();
  #resets = 0;

  constructor(config: CoordinateConfig = DEFAULT_COORDINATE_CONFIG, rng: Rng = mathRandom) {
    validateConfig(config);
    this.#config = { ...config };
    this.#rng = rng;
    this.#coord = newCoordinate(config);
    this.#origin = newCoordinate(config);
    this.#adjustmentSamples = new Array<number>(config.adjustmentWindowSize).fill(0);
  }

  /** Number of times an update produced a non-finite coordinate and the client started over. */
  get resets(): number {
    return this.#resets;
  }

  /** Returns a copy of the current coordinate. */
  getCoordinate(): Coordinate {
    return cloneCoordinate(this.#coord);
  }

  /** Drops the RTT samples kept for `node` (call it when the member is erased). */
  forgetNode(node: string): void {
    this.#latencySamples.delete(node);
  }

  /**
   * Moves the local coordinate using one RTT measurement to `node`, whose reported coordinate is
   * `other`, and returns a copy of the new coordinate. Throws InvalidArgumentError when `other`
   * has another dimensionality or a non-finite component, or when `rttSeconds` is outside
   * [0, 10] seconds; the state is then unchanged.
   */
  update(node: string, other: Coordinate, rttSeconds: number): Coordinate {
    if (!Array.isArray(other.vec) || other.vec.length !== this.#config.dimensionality) {
      const dims = Array.isArray(other.vec) ? other.vec.length : 'no';
      throw new InvalidArgumentError(
        `coordinate from ${node} has ${dims} dimensions; expected ${this.#config.dimensionality}`,
      );
    }
    if (!isValidCoordinate(other)) {
      throw new InvalidArgumentError(`coordinate from ${node} has a NaN or infinite component`);
    }
    if (!(rttSeconds >= 0 && rttSeconds <= MAX_RTT_SECONDS)) {
      throw new InvalidArgumentError(
        `RTT to ${node} of ${rttSeconds} s is outside the valid range [0, ${MAX_RTT_SECONDS}] s`,
      );
    }

    const filtered = this.#filterLatency(node, rttSeconds);
    this.#updateVivaldi(other, filtered);
    this.#updateAdjustment(other, filtered);
    this.#updateGravity();
    if (!isValidCoordinate(this.#coord)) {
      this.#resets++;
      this.#coord = newCoordinate(this.#config);
    }
    return cloneCoordinate(this.#coord);
  }

  /** Adds a sample to the peer's window and returns the window's median (the upper one for even sizes). */
  #filterLatency(node: string, rttSeconds: number): number {
    let samples = this.#latencySamples.get(node);
    if (samples === undefined) {
      samples = [];
      this.#latencySamples.set(node, samples);
    }
    samples.push(rttSeconds);
    if (samples.length > this.#config.latencyFilterSize) samples.shift();
    const sorted = [...samples].sort((x, y) => x - y);
    return sorted[Math.floor(sorted.length / 2)]!;
  }

  #updateVivaldi(other: Coordinate, rttSeconds: number): void {
    const config = this.#config;
    const dist = truncateToNanoseconds(distanceSeconds(this.#coord, other));
    const rtt = Math.max(rttSeconds, ZERO_THRESHOLD);
    const wrongness = Math.abs(dist - rtt) / rtt;

    const totalError = Math.max(this.#coord.error + other.error, ZERO_THRESHOLD);
    const weight = this.#coord.error / totalError;
    const error = config.vivaldiCE * weight * wrongness + this.#coord.error * (1 - config.vivaldiCE * weight);
    this.#coord.error = Math.min(error, config.vivaldiErrorMax);

    const force = config.vivaldiCC * weight * (rtt - dist);
    this.#coord = this.#applyForce(this.#coord, force, other);
  }

  /** Sets `adjustment` to half the mean of the recent `rtt − raw distance` samples. */
  #updateAdjustment(other: Coordinate, rttSeconds: number): void {
    const window = this.#config.adjustmentWindowSize;
    if (window === 0) return;
    this.#adjustmentSamples[this.#adjustmentIndex] = rttSeconds - rawDistance(this.#coord, other);
    this.#adjustmentIndex = (this.#adjustmentIndex + 1) % window;
    let sum = 0;
    for (const sample of this.#adjustmentSamples) sum += sample;
    this.#coord.adjustment = sum / (2 * window);
  }

  /** Pulls the coordinate towards the origin, harder the farther out it is, so the cloud does not drift. */
  #updateGravity(): void {
    const dist = truncateToNanoseconds(distanceSeconds(this.#origin, this.#coord));
    const force = -((dist / this.#config.gravityRho) ** 2);
    this.#coord = this.#applyForce(this.#coord, force, this.#origin);
  }

  /**
   * Returns `c` moved by `force` seconds along the direction from `other` to `c` (a positive
   * force pushes away). The height grows or shrinks in proportion, but not below `heightMin`.
   */
  #applyForce(c: Coordinate, force: number, other: Coordinate): Coordinate {
    const moved = cloneCoordinate(c);
    const { unit, magnitude: mag } = this.#unitVectorFrom(other.vec, c.vec);
    for (let i = 0; i < moved.vec.length; i++) moved.vec[i]! += unit[i]! * force;
    if (mag > ZERO_THRESHOLD) {
      const height = ((moved.height + other.height) * force) / mag + moved.height;
      moved.height = Math.max(height, this.#config.heightMin);
    }
    return moved;
  }

  /**
   * Returns the unit vector pointing from `from` to `to` and the distance between them. When the
   * points (almost) coincide the direction is random and the distance is reported as 0.
   */
  #unitVectorFrom(from: readonly number[], to: readonly number[]): { unit: number[]; magnitude: number } {
    const diff = to.map((x, i) => x - from[i]!);
    const mag = magnitude(diff);
    if (mag > ZERO_THRESHOLD) return { unit: diff.map((x) => x / mag), magnitude: mag };

    const random = diff.map(() => this.#rng.next() - 0.5);
    const randomMag = magnitude(random);
    if (randomMag > ZERO_THRESHOLD) return { unit: random.map((x) => x / randomMag), magnitude: 0 };

    // The RNG returned (almost) the same value for every component: fall back to the first axis.
    const axis = new Array<number>(diff.length).fill(0);
    axis[0] = 1;
    return { unit: axis, magnitude: 0 };
  }
}

function validateConfig(config: CoordinateConfig): void {
  const positiveIntegers: (keyof CoordinateConfig)[] = ['dimensionality', 'latencyFilterSize'];
  for (const key of positiveIntegers) {
    const value = config[key];
    if (!Number.isInteger(value) || value < 1) {
      throw new InvalidArgumentError(
        `coordinate config ${key} is ${value}; expected an integer of at least 1`,
      );
    }
  }
  if (!Number.isInteger(config.adjustmentWindowSize) || config.adjustmentWindowSize < 0) {
    throw new InvalidArgumentError(
      `coordinate config adjustmentWindowSize is ${config.adjustmentWindowSize}; expected an integer of at least 0`,
    );
  }
  const positiveNumbers: (keyof CoordinateConfig)[] = ['vivaldiErrorMax', 'gravityRho'];
  for (const key of positiveNumbers) {
    const value = config[key];
    if (!Number.isFinite(value) || value <= 0) {
      throw new InvalidArgumentError(`coordinate config ${key} is ${value}; expected a positive number`);
    }
  }
  const nonNegativeNumbers: (keyof CoordinateConfig)[] = ['vivaldiCE', 'vivaldiCC', 'heightMin'];
  for (const key of nonNegativeNumbers) {
    const value = config[key];
    if (!Number.isFinite(value) || value < 0) {
      throw new InvalidArgumentError(`coordinate config ${key} is ${value}; expected a number of at least 0`);
    }
  }
}

/**
 * Encodes the ack payload that carries a coordinate: the version byte 1, then a msgpack map with
 * the keys Adjustment, Error, Height and Vec, every number as a float64 (0xcb), as Go writes it.
 */
export function encodePingPayload(c: Coordinate): Uint8Array {
  const body = encodeGossip({
    Adjustment: new Float64(c.adjustment),
    Error: new Float64(c.error),
    Height: new Float64(c.height),
    Vec: c.vec.map((x) => new Float64(x)),
  });
  const out = new Uint8Array(body.length + 1);
  out[0] = PING_PAYLOAD_VERSION;
  out.set(body, 1);
  return out;
}

/**
 * Decodes an ack payload written by `encodePingPayload` or a Go node. Missing fields read as 0 and
 * unknown keys are ignored, as Go's decoder does. The result is not validated: check it with
 * `isValidCoordinate` (or let `CoordinateClient.update` reject it). Throws DecodeError for an
 * empty payload, a version byte other than 1, or a body that is not such a map.
 */
export function decodePingPayload(buf: Uint8Array): Coordinate {
  if (buf.length === 0) {
    throw new DecodeError('ping payload is empty; expected a version byte and a coordinate');
  }
  if (buf[0] !== PING_PAYLOAD_VERSION) {
    throw new DecodeError(`Unsupported ping version: ${buf[0]}`);
  }
  const map = expectMap(decodeGossip(buf.subarray(1)), 'ping payload coordinate');
  const vec = readArray(map, 'Vec').map((item, i) => vecComponent(item, i));
  return {
    vec,
    error: readFloat(map, 'Error'),
    adjustment: readFloat(map, 'Adjustment'),
    height: readFloat(map, 'Height'),
  };
}

function vecComponent(item: GossipDecoded, index: number): number {
  if (typeof item === 'number') return item;
  if (typeof item === 'bigint') return Number(item);
  throw new DecodeError(`ping payload coordinate: Vec[${index}] is not a number`);
}
