import { agonesError } from './sdk-rule.js';

/** The Agones feature gates the SDK server honours, resolved to Agones' defaults. */
export interface SdkFeatureGates {
  /** Alpha player tracking; Agones' default is off. */
  PlayerTracking: boolean;
  /** Beta counters and lists; Agones' default is on. */
  CountsAndLists: boolean;
}

export function resolveSdkFeatureGates(gates: Partial<SdkFeatureGates> | undefined): SdkFeatureGates {
  return { PlayerTracking: gates?.PlayerTracking ?? false, CountsAndLists: gates?.CountsAndLists ?? true };
}

/** Throws Agones' "<gate> not enabled" (2 UNKNOWN) when `gate` is off. */
export function requireFeature(gates: SdkFeatureGates, gate: keyof SdkFeatureGates): void {
  if (!gates[gate]) throw agonesError(`${gate} not enabled`);
}
