import { isIP } from 'node:net';

// A game server's UDP addresses as connect tokens carry them: "host:port", IPv6 as "[::1]:7000".

export interface ServerAddress {
  address: string;
  port: number;
}

const HOST_PORT = /^(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9.-]+)):(\d{1,5})$/;

/** The host and port of "host:port", or what is wrong with it. */
function readServerAddress(hostPort: string): ServerAddress | string {
  const m = HOST_PORT.exec(hostPort);
  if (!m) return 'is not HOST:PORT';
  if (m[1] !== undefined && isIP(m[1]) !== 6) return `is not HOST:PORT: [${m[1]}] is not an IPv6 address`;
  const port = Number(m[3]);
  if (port < 1 || port > 65535) return `is not HOST:PORT: port ${m[3]} is outside 1 to 65535`;
  return { address: m[1] ?? m[2]!, port };
}

/** The host and port of "host:port"; undefined when it is not one. */
export function parseServerAddress(hostPort: string): ServerAddress | undefined {
  const read = readServerAddress(hostPort);
  return typeof read === 'string' ? undefined : read;
}

/** What is wrong with `hostPort` as "host:port", in words that follow it; undefined when nothing is. */
export function serverAddressProblem(hostPort: string): string | undefined {
  const read = readServerAddress(hostPort);
  return typeof read === 'string' ? read : undefined;
}

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

/**
 * The address a player connects to: FNV-1a (32 bits) of the player id's UTF-8 bytes, modulo the
 * number of addresses. Spreads players over a server's network workers, the same way every time.
 */
export function pickServerAddress(addresses: readonly string[], playerId: string): string {
  let hash = FNV_OFFSET;
  for (const byte of Buffer.from(playerId, 'utf8')) hash = Math.imul(hash ^ byte, FNV_PRIME) >>> 0;
  return addresses[hash % addresses.length]!;
}
