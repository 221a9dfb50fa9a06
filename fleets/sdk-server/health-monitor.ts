import type { Cancel, Clock } from '../../core/clock.js';
import type { HealthSpec } from '../../core/resources.js';

export interface HealthMonitorOptions {
  health: HealthSpec;
  clock: Clock;
  /** Called when the game server has been silent for `failureThreshold` checks in a row. */
  onFailure: (reason: string) => void;
}

/** Agones' defaults for non-positive health settings (GameServerSpec.applyHealthDefaults). */
const DEFAULTS = { periodSeconds: 5, failureThreshold: 3, initialDelaySeconds: 5 } as const;

const positiveOr = (value: number, fallback: number): number => (value > 0 ? value : fallback);

/**
 * Health checking as the Agones sidecar does it, on the injected clock:
 *
 * - Nothing is checked until `initialDelaySeconds` after the monitor starts (in Agones the
 *   kubelet's first liveness probe, sent after that delay, starts the sidecar's checks).
 * - Then a check runs at once and every `periodSeconds`. A check fails when the last ping (or the
 *   start, if none came) is more than one period old — strictly more, so a game server that pings
 *   exactly once per period never fails.
 * - Every ping resets the count of failed checks to zero; a failure is counted at most once per
 *   period, however long the silence.
 * - When `failureThreshold` checks have failed in a row, `onFailure` is called once, and the monitor
 *   re-arms as a liveness probe does after a container restart: count back to zero, the initial
 *   delay again. Before Ready the caller restarts the process, which must be checked anew; after
 *   Ready it makes the server Unhealthy and `stop()`s the monitor.
 *
 * Deliberately not trigger-happy: the Node SDK opens its health stream once and never re-opens it,
 * so a server that lost its stream stays silent for good — that is a real failure and is reported,
 * but a late or irregular ping within the threshold never is.
 */
export class HealthMonitor {
  private readonly periodMs: number;
  private readonly initialDelayMs: number;
  private readonly threshold: number;
  private lastPing: number;
  private failures = 0;
  private cancelTimer: Cancel | undefined;
  private stopped = false;

  constructor(private readonly options: HealthMonitorOptions) {
    const { health, clock } = options;
    this.periodMs = positiveOr(health.periodSeconds, DEFAULTS.periodSeconds) * 1000;
    this.initialDelayMs = positiveOr(health.initialDelaySeconds, DEFAULTS.initialDelaySeconds) * 1000;
    this.threshold = positiveOr(health.failureThreshold, DEFAULTS.failureThreshold);
    this.lastPing = clock.monotonic();
    this.stopped = health.disabled;
    if (!this.stopped) this.arm();
  }

  /** Failed checks since the last ping. */
  get failureCount(): number {
    return this.failures;
  }

  ping(): void {
    this.lastPing = this.options.clock.monotonic();
    this.failures = 0;
  }

  stop(): void {
    this.stopped = true;
    this.cancelTimer?.();
    this.cancelTimer = undefined;
  }

  private arm(): void {
    const { clock } = this.options;
    this.failures = 0;
    this.lastPing = clock.monotonic();
    this.cancelTimer = clock.setTimeout(() => {
      this.cancelTimer = clock.every(this.periodMs, () => this.check());
      this.check();
    }, this.initialDelayMs);
  }

  private check(): void {
    const silentMs = this.options.clock.monotonic() - this.lastPing;
    if (silentMs <= this.periodMs) return;
    this.failures++;
    if (this.failures < this.threshold) return;
    this.cancelTimer?.();
    this.cancelTimer = undefined;
    const reason = `no health ping for ${Math.round(silentMs / 1000)}s (${this.failures} failed checks, periodSeconds ${this.periodMs / 1000}, failureThreshold ${this.threshold})`;
    this.options.onFailure(reason);
    if (!this.stopped) this.arm();
  }
}
