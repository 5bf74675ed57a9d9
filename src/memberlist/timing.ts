/**
 * Pure formulas that derive memberlist timers and limits from the cluster size, as memberlist 0.2.2
 * computes them. Kept apart so they can be checked against tables of known values.
 */

/** Retransmit limit of a broadcast: mult × ceil(log10(n + 1)). LAN: n 1..9 → 4, 10..99 → 8. */
export function retransmitLimit(retransmitMult: number, n: number): number {
  const nodeScale = Math.ceil(Math.log10(n + 1));
  return retransmitMult * nodeScale;
}

/**
 * Minimum suspicion timeout in ms: mult × max(1, log10(max(1, n))) × interval, with the log factor
 * truncated to three decimals as the reference does. LAN (mult 4, 1 s): n ≤ 10 → 4 s, n = 100 → 8 s.
 */
export function suspicionTimeout(suspicionMult: number, n: number, intervalMs: number): number {
  const nodeScale = Math.max(1, Math.log10(Math.max(1, n)));
  const truncated = Math.floor(nodeScale * 1000) / 1000;
  return Math.floor(suspicionMult * truncated * intervalMs);
}

/**
 * Push/pull period in ms for a cluster of n nodes: the base interval up to 32 nodes, then one more
 * multiple for each doubling (33..64 → ×2, 65..128 → ×3), so anti-entropy load per node stays flat.
 */
export function pushPullScale(intervalMs: number, n: number): number {
  const threshold = 32;
  if (n <= threshold) return intervalMs;
  const multiplier = Math.ceil(Math.log2(n) - Math.log2(threshold)) + 1;
  return intervalMs * multiplier;
}

/** Confirmations a suspicion waits for before using its minimum timeout (Lifeguard's k). */
export function expectedConfirmations(suspicionMult: number, n: number): number {
  const k = suspicionMult - 2;
  return n - 2 < k ? 0 : k;
}

/**
 * Suspicion timeout in ms after `confirmations` independent suspect messages: it shrinks
 * logarithmically from `maxMs` to `minMs` as confirmations approach k.
 */
export function suspicionRemaining(confirmations: number, k: number, minMs: number, maxMs: number): number {
  if (k < 1) return minMs;
  const frac = Math.log(confirmations + 1) / Math.log(k + 1);
  const raw = Math.floor(maxMs - frac * (maxMs - minMs));
  return Math.max(minMs, raw);
}
