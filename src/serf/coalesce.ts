/**
 * Event coalescers of the Serf agent. They collect bursts of member events (or of user events sent
 * with coalescing allowed) and deliver a reduced set once the burst is over, so event handlers
 * run once per burst instead of once per event.
 *
 * Timing: the first coalesced event after a flush starts the period timer, and every coalesced
 * event restarts the quiescent timer. Whichever fires first flushes and clears both, so a flush
 * happens at most `coalescePeriodMs` after the first event and `quiescentPeriodMs` after the last.
 */

import type { Clock, TimerHandle } from '../util/clock.js';
import { InvalidArgumentError } from '../util/errors.js';
import {
  isMemberEvent,
  type Member,
  type MemberEventType,
  type SerfEvent,
  type UserEvent,
} from './events.js';

export interface CoalescerOptions {
  clock: Clock;
  /** Maximum time, in ms, from the first collected event to the flush. */
  coalescePeriodMs: number;
  /** Time without new collected events, in ms, after which the collected events are flushed. */
  quiescentPeriodMs: number;
}

/** Timer and lifecycle handling shared by both coalescers. */
abstract class Coalescer {
  readonly #clock: Clock;
  readonly #coalescePeriodMs: number;
  readonly #quiescentPeriodMs: number;
  #periodTimer: TimerHandle | undefined;
  #quiescentTimer: TimerHandle | undefined;
  #stopped = false;
  protected readonly emit: (e: SerfEvent) => void;

  constructor(options: CoalescerOptions, emit: (e: SerfEvent) => void) {
    for (const key of ['coalescePeriodMs', 'quiescentPeriodMs'] as const) {
      const value = options[key];
      if (!Number.isFinite(value) || value <= 0) {
        throw new InvalidArgumentError(
          `${key} is ${value}; expected a positive number of ms (to turn coalescing off, do not create a coalescer)`,
        );
      }
    }
    this.#clock = options.clock;
    this.#coalescePeriodMs = options.coalescePeriodMs;
    this.#quiescentPeriodMs = options.quiescentPeriodMs;
    this.emit = emit;
  }

  /** Whether this coalescer collects `e` rather than passing it through. */
  protected abstract accepts(e: SerfEvent): boolean;
  /** Adds an accepted event to the collected set. */
  protected abstract collect(e: SerfEvent): void;
  /** Returns the events to deliver for the collected set, and clears it. */
  protected abstract drain(): SerfEvent[];
  /** Drops the collected set. */
  protected abstract discard(): void;

  /**
   * Collects `e` if this coalescer handles its kind, and emits it at once otherwise.
   * Does nothing after `stop()`.
   */
  handle(e: SerfEvent): void {
    if (this.#stopped) return;
    if (!this.accepts(e)) {
      this.emit(e);
      return;
    }
    this.#periodTimer ??= this.#clock.setTimeout(() => this.flush(), this.#coalescePeriodMs);
    this.#quiescentTimer?.cancel();
    this.#quiescentTimer = this.#clock.setTimeout(() => this.flush(), this.#quiescentPeriodMs);
    this.collect(e);
  }

  /** Emits the collected events now and clears both timers. Does nothing after `stop()`. */
  flush(): void {
    if (this.#stopped) return;
    this.#cancelTimers();
    for (const e of this.drain()) this.emit(e);
  }

  /** Cancels the timers and drops the collected events without emitting them. Idempotent. */
  stop(): void {
    this.#stopped = true;
    this.#cancelTimers();
    this.discard();
  }

  #cancelTimers(): void {
    this.#periodTimer?.cancel();
    this.#quiescentTimer?.cancel();
    this.#periodTimer = undefined;
    this.#quiescentTimer = undefined;
  }
}

/**
 * Coalesces member events (join, leave, failed, update, reap). For each member only the latest
 * event type counts. At a flush, a member is left out when that type equals the type last
 * delivered for it, except for member-update, which is always delivered. The remaining members
 * are grouped into one event per type. Types come in the order their first member's latest event
 * arrived, and members in the order their latest events arrived.
 */
export class MemberEventCoalescer extends Coalescer {
  /** Latest event per member name, kept in arrival order of that latest event. */
  #latest = new Map<string, { type: MemberEventType; member: Member }>();
  /** Type last delivered per member name; kept across flushes. */
  readonly #lastDelivered = new Map<string, MemberEventType>();

  protected accepts(e: SerfEvent): boolean {
    return isMemberEvent(e);
  }

  protected collect(e: SerfEvent): void {
    if (!isMemberEvent(e)) return;
    for (const member of e.members) {
      // Delete first so the member moves to the end of the arrival order.
      this.#latest.delete(member.name);
      this.#latest.set(member.name, { type: e.type, member });
    }
  }

  // NOTE: Serf 0.9.4 never clears its collected events, so it delivers a member's last update
  // again at every later flush. This coalescer clears them at each flush, so each update is
  // delivered once.
  protected drain(): SerfEvent[] {
    const grouped = new Map<MemberEventType, Member[]>();
    for (const [name, { type, member }] of this.#latest) {
      if (type !== 'member-update' && this.#lastDelivered.get(name) === type) continue;
      this.#lastDelivered.set(name, type);
      let members = grouped.get(type);
      if (members === undefined) {
        members = [];
        grouped.set(type, members);
      }
      members.push(member);
    }
    this.#latest = new Map();
    return [...grouped].map(([type, members]) => ({ type, members }));
  }

  protected discard(): void {
    this.#latest = new Map();
  }
}

/**
 * Coalesces user events sent with `coalesce: true`; every other event passes through. For each
 * event name only the events with the highest LTime are kept (all of them when several share it),
 * and they are delivered at the flush, names in order of first arrival.
 */
export class UserEventCoalescer extends Coalescer {
  #latest = new Map<string, { ltime: number; events: UserEvent[] }>();

  protected accepts(e: SerfEvent): boolean {
    return e.type === 'user' && e.coalesce;
  }

  protected collect(e: SerfEvent): void {
    if (e.type !== 'user') return;
    const entry = this.#latest.get(e.name);
    if (entry === undefined || e.ltime > entry.ltime) {
      this.#latest.set(e.name, { ltime: e.ltime, events: [e] });
    } else if (e.ltime === entry.ltime) {
      entry.events.push(e);
    }
  }

  protected drain(): SerfEvent[] {
    const events = [...this.#latest.values()].flatMap((entry) => entry.events);
    this.#latest = new Map();
    return events;
  }

  protected discard(): void {
    this.#latest = new Map();
  }
}
