import { ErrorCode } from '../../core/errors.js';
import type { GameServerPort } from '../../core/resources.js';
import type { PortRange } from './port-allocator.js';

// How many game servers fit on this machine: the one place the scale, fleet-file and autoscaler
// checks ask. Two bounds hold: host ports (local.port_range, per fleet, each Dynamic and
// Passthrough port takes one) and processes (local.max_servers, all fleets together, each server
// takes memory). The smaller wins, and its reason names the setting that raises it. Asked for
// more, the stack would spend itself creating servers: 100,000 waiting for ports took it past
// 2 GiB, and 1000 running ones would take ~58 GB.

export interface ServerBounds {
  portRange: PortRange;
  /** The most game-server processes the stack runs, all fleets together. */
  maxServers: number;
}

/** The most servers of a fleet with `ports` that can run beside `others` servers of other fleets, and why that many. */
export function serversThatFit(replicas: number, ports: readonly GameServerPort[], bounds: ServerBounds, others = 0): { fit: number; reason: string; code: ErrorCode } {
  const { portRange: range, maxServers } = bounds;
  const fitByMemory = Math.max(0, maxServers - others);
  const each = hostPortsEach(ports);
  const size = range.max - range.min + 1;
  const fitByPorts = each === 0 ? Infinity : Math.floor(size / each);
  if (fitByPorts <= fitByMemory) {
    return {
      fit: fitByPorts,
      code: ErrorCode.PORT_UNAVAILABLE,
      reason: `${replicas} servers take ${replicas * each} host ports (${each} each, its Dynamic and Passthrough ports), and local.port_range ${range.min}-${range.max} holds ${size}: at most ${fitByPorts} can run here (widen local.port_range for more)`,
    };
  }
  const beside = others > 0 ? ` beside the ${others} of other fleets` : '';
  return {
    fit: fitByMemory,
    code: ErrorCode.MAX_SERVERS_REACHED,
    reason: `${replicas} servers${beside} pass local.max_servers ${maxServers}, the most game-server processes this stack runs for its machine's memory: at most ${fitByMemory} can run here (raise local.max_servers for more, if the memory is there)`,
  };
}

/** Why `replicas` servers with `ports` beside `others` of other fleets can never all run here, or undefined when they can. */
export function replicasPastBounds(replicas: number, ports: readonly GameServerPort[], bounds: ServerBounds, others = 0): string | undefined {
  const { fit, reason } = serversThatFit(replicas, ports, bounds, others);
  return replicas <= fit ? undefined : reason;
}

/** The most servers that fit, and why, when `replicas` is more: where an autoscaler stops. */
export function boundsCeiling(replicas: number, ports: readonly GameServerPort[], bounds: ServerBounds, others = 0): { replicas: number; reason: string; code: ErrorCode } | undefined {
  const { fit, reason, code } = serversThatFit(replicas, ports, bounds, others);
  return replicas <= fit ? undefined : { replicas: fit, reason, code };
}

function hostPortsEach(ports: readonly GameServerPort[]): number {
  return ports.filter((p) => p.portPolicy === 'Dynamic' || p.portPolicy === 'Passthrough').length;
}
