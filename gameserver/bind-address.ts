import { networkInterfaces } from 'node:os';

/**
 * Where a game server binds: the GameServer's status address when this machine owns it (a local
 * run: bind only that), otherwise every interface (in a pod the status holds the node's address,
 * which the pod does not own).
 */
export function bindAddressFor(statusAddress: string): string {
  const own = Object.values(networkInterfaces()).flatMap((list) => (list ?? []).map((i) => i.address));
  return own.includes(statusAddress) ? statusAddress : '0.0.0.0';
}
