import type { GameServer } from '../../core/game-server.js';

// What the fleet controller needs from whatever runs game servers: locally, child processes
// (LocalProcessRuntime); on a cluster, Agones runs them and Hangar's controller is not used.

export interface ProcessInfo {
  pid: number | null;
  /** Restarts since the server was last Ready (a crash loop shows here, with its back-off). */
  restarts: number;
  /** How the process last ended, e.g. "code 3" or "signal SIGKILL"; null while it never has. */
  lastExit: string | null;
  /** Milliseconds the current restart waits (crash-loop back-off); 0 when none is pending. */
  restartBackoffMs: number;
  sdkPort: number | null;
  logFile: string;
}

export interface FleetRuntime {
  /** Stores a new GameServer (state PortAllocation) and starts bringing it up. */
  create(gs: GameServer): Promise<GameServer>;
  /** Moves the game server to Shutdown; it is stopped and removed in the background. */
  delete(name: string): Promise<void>;
  /** Runtime facts about a game server, for the status API; undefined when the runtime has none. */
  processInfo(name: string): ProcessInfo | undefined;
  close(): Promise<void>;
}
