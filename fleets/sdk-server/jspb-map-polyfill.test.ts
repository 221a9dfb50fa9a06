import { createRequire } from 'node:module';
import { afterEach, describe, expect, it } from '@jest/globals';
import { Server, ServerCredentials, type UntypedServiceImplementation } from '@grpc/grpc-js';
import { agonesSdkProtos, type GameServerMessage } from './agones-sdk-protos.js';
import { installJspbMapPolyfill } from './jspb-map-polyfill.js';
import { closeSdkTestClient, createSdkTestClient, type SdkTestClient } from '../../test/helpers/sdk-test-client.js';

/** The google-protobuf instance the SDK package resolves, which the polyfill must patch. */
function sdkJspbMapPrototype(): { serializeBinary?: unknown } {
  const sdkPackageJson = createRequire(import.meta.url).resolve('@google-cloud/agones-sdk/package.json');
  return (createRequire(sdkPackageJson)('google-protobuf') as { Map: { prototype: { serializeBinary?: unknown } } }).Map.prototype;
}

/** A GameServer message with every map field filled, built from the package's own classes. */
function gameServerWithMaps(): GameServerMessage {
  const { pb } = agonesSdkProtos().sdk;
  const meta = new pb.GameServer.ObjectMeta().setName('gs-1');
  meta.getLabelsMap().set('mode', 'ranked').set('agones.dev/sdk-map', 'dust');
  meta.getAnnotationsMap().set('note', 'hello world');
  const status = new pb.GameServer.Status().setState('Ready');
  status.getCountersMap().set('rooms', new pb.GameServer.Status.CounterStatus().setCount(1).setCapacity(10));
  status.getCountersMap().set('sessions', new pb.GameServer.Status.CounterStatus().setCount(0).setCapacity(3));
  status.getListsMap().set('players', new pb.GameServer.Status.ListStatus().setCapacity(100).setValuesList(['a', 'b']));
  return new pb.GameServer().setObjectMeta(meta).setStatus(status);
}

describe('installJspbMapPolyfill', () => {
  let server: Server | undefined;
  let sdk: SdkTestClient | undefined;

  afterEach(async () => {
    if (sdk) closeSdkTestClient(sdk);
    sdk = undefined;
    await new Promise<void>((resolve) => (server ? server.tryShutdown(() => resolve()) : resolve()));
    server = undefined;
  });

  it('is needed: without it google-protobuf 4 cannot serialize a map field', () => {
    agonesSdkProtos(); // loads the classes (and installs the polyfill) before it is taken away
    const prototype = sdkJspbMapPrototype();
    const polyfill = prototype.serializeBinary;
    delete prototype.serializeBinary;
    try {
      expect(() => gameServerWithMaps().serializeBinary()).toThrow(/serializeBinary is not a function/);
    } finally {
      prototype.serializeBinary = polyfill;
    }
  });

  it('is idempotent and leaves an existing method alone', () => {
    installJspbMapPolyfill();
    const first = sdkJspbMapPrototype().serializeBinary;
    installJspbMapPolyfill();
    expect(typeof first).toBe('function');
    expect(sdkJspbMapPrototype().serializeBinary).toBe(first);
  });

  it('round-trips labels, annotations, counters and lists through the package classes', () => {
    const { pb } = agonesSdkProtos().sdk;
    const bytes = gameServerWithMaps().serializeBinary();
    const decoded = (pb.GameServer as unknown as { deserializeBinary(b: Uint8Array): GameServerMessage }).deserializeBinary(bytes);
    expect(decoded.toObject()).toEqual(gameServerWithMaps().toObject());
  });

  it('round-trips labels, annotations, counters and lists through the real SDK client', async () => {
    const { sdk: core } = agonesSdkProtos();
    server = new Server();
    server.addService(core.service, {
      getGameServer: (_call: unknown, reply: (err: null, gs: GameServerMessage) => void) => reply(null, gameServerWithMaps()),
    } as UntypedServiceImplementation);
    const port = await new Promise<number>((resolve, reject) =>
      server!.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
    );

    sdk = createSdkTestClient(port);
    const gs = await sdk.getGameServer();

    expect(gs.objectMeta.labelsMap).toEqual([
      ['agones.dev/sdk-map', 'dust'],
      ['mode', 'ranked'],
    ]);
    expect(gs.objectMeta.annotationsMap).toEqual([['note', 'hello world']]);
    expect(gs.status.countersMap).toEqual([
      ['rooms', { count: 1, capacity: 10 }],
      ['sessions', { count: 0, capacity: 3 }],
    ]);
    expect(gs.status.listsMap).toEqual([['players', { capacity: 100, valuesList: ['a', 'b'] }]]);
  });
});
