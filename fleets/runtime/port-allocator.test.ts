import { createSocket, type Socket } from 'node:dgram';
import { describe, expect, it } from '@jest/globals';
import { PortUnavailableError } from '../../core/errors.js';
import type { GameServerPort } from '../../core/resources.js';
import { PortAllocator, probePort } from './port-allocator.js';

const port = (p: Partial<GameServerPort> & Pick<GameServerPort, 'name' | 'portPolicy'>): GameServerPort => ({ protocol: 'UDP', containerPort: 7654, ...p });
const alwaysFree = async () => true;

describe('PortAllocator', () => {
  it('hands out Dynamic ports from the range and puts them in the status', async () => {
    const ports = new PortAllocator({ range: { min: 7000, max: 7002 }, host: '127.0.0.1', probe: alwaysFree });
    const a = await ports.assign([port({ name: 'default', portPolicy: 'Dynamic' })]);
    expect(a.ports).toEqual([{ name: 'default', portPolicy: 'Dynamic', protocol: 'UDP', containerPort: 7654, hostPort: 7000 }]);
    expect(a.statusPorts).toEqual([{ name: 'default', port: 7000 }]);
    const b = await ports.assign([port({ name: 'default', portPolicy: 'Dynamic' })]);
    expect(b.held).toEqual([7001]);
    expect(ports.inUse).toBe(2);
  });

  it('sets containerPort to the host port for Passthrough', async () => {
    const ports = new PortAllocator({ range: { min: 7100, max: 7100 }, host: '127.0.0.1', probe: alwaysFree });
    const a = await ports.assign([port({ name: 'p', portPolicy: 'Passthrough', containerPort: undefined })]);
    expect(a.ports[0]).toMatchObject({ hostPort: 7100, containerPort: 7100 });
  });

  it('keeps Static ports as written and refuses a second holder', async () => {
    const ports = new PortAllocator({ range: { min: 7000, max: 7010 }, host: '127.0.0.1', probe: alwaysFree });
    const a = await ports.assign([port({ name: 's', portPolicy: 'Static', hostPort: 7777 })]);
    expect(a.statusPorts).toEqual([{ name: 's', port: 7777 }]);
    await expect(ports.assign([port({ name: 's', portPolicy: 'Static', hostPort: 7777 })])).rejects.toThrow('Static port 7777 (s) is held by another game server');
  });

  it('gives a Static port to one of two servers assigned at once, and frees it when the probe finds it taken', async () => {
    const ports = new PortAllocator({ range: { min: 7000, max: 7010 }, host: '127.0.0.1', probe: alwaysFree });
    const both = await Promise.allSettled([0, 1].map(() => ports.assign([port({ name: 's', portPolicy: 'Static', hostPort: 7777 })])));
    expect(both.map((r) => r.status).sort()).toEqual(['fulfilled', 'rejected']);
    expect(both.find((r) => r.status === 'rejected')).toMatchObject({ reason: expect.objectContaining({ message: 'Static port 7777 (s) is held by another game server' }) });

    const busy = new PortAllocator({ range: { min: 7000, max: 7010 }, host: '127.0.0.1', probe: async () => false });
    await expect(busy.assign([port({ name: 's', portPolicy: 'Static', hostPort: 7777 })])).rejects.toThrow('Static port 7777 (s) is in use by another program on 127.0.0.1');
    expect(busy.isHeld(7777)).toBe(false);
  });

  it('reports None ports at their container port and holds nothing for them', async () => {
    const ports = new PortAllocator({ range: { min: 7000, max: 7010 }, host: '127.0.0.1', probe: alwaysFree });
    const a = await ports.assign([port({ name: 'n', portPolicy: 'None', containerPort: 9999 })]);
    expect(a.statusPorts).toEqual([{ name: 'n', port: 9999 }]);
    expect(a.held).toEqual([]);
  });

  it('lists a TCPUDP port once per protocol, as Agones does', async () => {
    const ports = new PortAllocator({ range: { min: 7000, max: 7010 }, host: '127.0.0.1', probe: alwaysFree });
    const a = await ports.assign([port({ name: 'game', portPolicy: 'Dynamic', protocol: 'TCPUDP' })]);
    expect(a.statusPorts).toEqual([
      { name: 'game-tcp', port: 7000 },
      { name: 'game-udp', port: 7000 },
    ]);
  });

  it('gives everything back when one port of several cannot be had', async () => {
    const ports = new PortAllocator({ range: { min: 7000, max: 7001 }, host: '127.0.0.1', probe: alwaysFree });
    await ports.assign([port({ name: 's', portPolicy: 'Static', hostPort: 7500 })]);
    const attempt = ports.assign([port({ name: 'a', portPolicy: 'Dynamic' }), port({ name: 's', portPolicy: 'Static', hostPort: 7500 })]);
    await expect(attempt).rejects.toBeInstanceOf(PortUnavailableError);
    expect(ports.inUse).toBe(1);
    expect(ports.isHeld(7000)).toBe(false);
  });

  it('says so when the range is exhausted, and reuses released ports', async () => {
    const ports = new PortAllocator({ range: { min: 7000, max: 7001 }, host: '127.0.0.1', probe: alwaysFree });
    const a = await ports.assign([port({ name: 'a', portPolicy: 'Dynamic' }), port({ name: 'b', portPolicy: 'Dynamic' })]);
    await expect(ports.assign([port({ name: 'c', portPolicy: 'Dynamic' })])).rejects.toThrow('no free port in 7000-7001 (2 held by game servers, the rest by other programs)');
    ports.release(a.held);
    expect((await ports.assign([port({ name: 'c', portPolicy: 'Dynamic' })])).held).toHaveLength(1);
  });

  it('skips a port another program holds (a real bound socket)', async () => {
    // A held port whose neighbour is free, below Linux's ephemeral range (32768+), where other
    // programs' sockets (bots, benchmarks) keep taking ports at random.
    const bind = (p: number) =>
      new Promise<Socket | undefined>((resolve) => {
        const s = createSocket('udp4');
        s.once('error', () => (s.close(), resolve(undefined)));
        s.bind(p, '127.0.0.1', () => resolve(s));
      });
    let other: Socket | undefined;
    let busy = 0;
    for (let tries = 0; !other && tries < 100; tries++) {
      busy = 20_000 + Math.floor(Math.random() * 10_000);
      const held = await bind(busy);
      const next = held && (await bind(busy + 1));
      if (next) {
        await new Promise<void>((r) => next.close(() => r()));
        other = held;
      } else held?.close();
    }
    if (!other) throw new Error('no free pair of ports in 20000-30000');
    try {
      expect(await probePort(busy, 'UDP', '127.0.0.1')).toBe(false);
      const ports = new PortAllocator({ range: { min: busy, max: busy + 1 }, host: '127.0.0.1' });
      const a = await ports.assign([port({ name: 'default', portPolicy: 'Dynamic' })]);
      expect(a.held).toEqual([busy + 1]);
    } finally {
      other.close();
    }
  });
});
