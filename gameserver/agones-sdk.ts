// A default import: Node hands an ES module a CommonJS package's module.exports as its default,
// and a static import is one a bundler follows (the game server's bundle, scripts/bundle.mjs).
import sdkModule from '@google-cloud/agones-sdk';

// The official Agones Node SDK, typed completely. Its own typings lack `beta`, several GameServer
// fields (addresses, players, counters, lists) and model the CommonJS export as an ES default, so
// every Hangar module that talks to the SDK imports it from here instead.

type Pairs<V> = Array<[string, V]>;

/** `GameServer.toObject()` as the SDK delivers it: maps arrive as arrays of [key, value] pairs. */
export interface SdkGameServer {
  objectMeta: {
    name: string;
    namespace: string;
    uid: string;
    resourceVersion: string;
    generation: number;
    /** Epoch seconds. */
    creationTimestamp: number;
    deletionTimestamp: number;
    annotationsMap: Pairs<string>;
    labelsMap: Pairs<string>;
  };
  spec: { health: { disabled: boolean; periodSeconds: number; failureThreshold: number; initialDelaySeconds: number } };
  status: {
    state: string;
    address: string;
    addressesList: Array<{ type: string; address: string }>;
    portsList: Array<{ name: string; port: number }>;
    players?: { count: number; capacity: number; idsList: string[] };
    countersMap: Pairs<{ count: number; capacity: number }>;
    listsMap: Pairs<{ capacity: number; valuesList: string[] }>;
  };
}

export interface AgonesSdkAlpha {
  playerConnect(playerId: string): Promise<boolean>;
  playerDisconnect(playerId: string): Promise<boolean>;
  setPlayerCapacity(capacity: number): Promise<Record<string, unknown>>;
  getPlayerCapacity(): Promise<number>;
  getPlayerCount(): Promise<number>;
  isPlayerConnected(playerId: string): Promise<boolean>;
  getConnectedPlayers(): Promise<string[]>;
}

export interface AgonesSdkBeta {
  getCounterCount(key: string): Promise<number>;
  incrementCounter(key: string, amount: number): Promise<void>;
  decrementCounter(key: string, amount: number): Promise<void>;
  setCounterCount(key: string, amount: number): Promise<void>;
  getCounterCapacity(key: string): Promise<number>;
  setCounterCapacity(key: string, amount: number): Promise<void>;
  getListCapacity(key: string): Promise<number>;
  setListCapacity(key: string, amount: number): Promise<void>;
  listContains(key: string, value: string): Promise<boolean>;
  getListLength(key: string): Promise<number>;
  getListValues(key: string): Promise<string[]>;
  appendListValue(key: string, value: string): Promise<void>;
  deleteListValue(key: string, value: string): Promise<void>;
}

/** A gRPC error as the SDK's promises reject with it. */
export interface SdkError extends Error {
  code: number;
  details: string;
}

export interface AgonesSdkClient {
  readonly alpha: AgonesSdkAlpha;
  readonly beta: AgonesSdkBeta;
  /** The SDK server port, read from AGONES_SDK_GRPC_PORT when the client was constructed. */
  readonly port: string;
  connect(): Promise<void>;
  close(): void;
  ready(): Promise<Record<string, unknown>>;
  allocate(): Promise<Record<string, unknown>>;
  shutdown(): Promise<Record<string, unknown>>;
  reserve(seconds: number): Promise<Record<string, unknown>>;
  /** Writes one ping on the SDK's single long-lived health stream (opened on the first call). */
  health(errorCallback?: (error: Error) => void): void;
  getGameServer(): Promise<SdkGameServer>;
  watchGameServer(callback: (gs: SdkGameServer) => void, errorCallback?: (error: Error) => void): void;
  setLabel(key: string, value: string): Promise<Record<string, unknown>>;
  setAnnotation(key: string, value: string): Promise<Record<string, unknown>>;
}

/** The SDK's client class; construct it after AGONES_SDK_GRPC_PORT is set. */
export const AgonesSDK = sdkModule as unknown as new () => AgonesSdkClient;
