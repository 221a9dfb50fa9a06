import { createRequire } from 'node:module';
import type { ServiceDefinition } from '@grpc/grpc-js';
import { installJspbMapPolyfill } from './jspb-map-polyfill.js';

// The message classes and service definitions that @google-cloud/agones-sdk itself ships
// (lib/*_pb.js, lib/*_grpc_pb.js; generated with grpc_out=generate_package_definition). Serving
// these, rather than copies of Agones' .proto files, keeps the server on exactly the wire format of
// the client the game servers use. The package ships no typings for lib/, so the shapes Hangar uses
// are declared here. int64 fields are JS numbers in these classes.

export interface JspbMessage {
  serializeBinary(): Uint8Array;
  toObject(): unknown;
}

export interface JspbMap<K, V> {
  set(key: K, value: V): JspbMap<K, V>;
  get(key: K): V | undefined;
}

type Ctor<T> = new () => T;

// agones.dev.sdk
export interface KeyValueMessage extends JspbMessage {
  getKey(): string;
  getValue(): string;
}
export interface DurationMessage extends JspbMessage {
  getSeconds(): number;
}
export interface ObjectMetaMessage extends JspbMessage {
  setName(v: string): this;
  setNamespace(v: string): this;
  setUid(v: string): this;
  setResourceVersion(v: string): this;
  setGeneration(v: number): this;
  setCreationTimestamp(v: number): this;
  setDeletionTimestamp(v: number): this;
  getAnnotationsMap(): JspbMap<string, string>;
  getLabelsMap(): JspbMap<string, string>;
}
export interface HealthMessage extends JspbMessage {
  setDisabled(v: boolean): this;
  setPeriodSeconds(v: number): this;
  setFailureThreshold(v: number): this;
  setInitialDelaySeconds(v: number): this;
}
export interface SpecMessage extends JspbMessage {
  setHealth(v: HealthMessage): this;
}
export interface AddressMessage extends JspbMessage {
  setType(v: string): this;
  setAddress(v: string): this;
}
export interface PortMessage extends JspbMessage {
  setName(v: string): this;
  setPort(v: number): this;
}
export interface PlayerStatusMessage extends JspbMessage {
  setCount(v: number): this;
  setCapacity(v: number): this;
  setIdsList(v: string[]): this;
}
export interface CounterStatusMessage extends JspbMessage {
  setCount(v: number): this;
  setCapacity(v: number): this;
}
export interface ListStatusMessage extends JspbMessage {
  setCapacity(v: number): this;
  setValuesList(v: string[]): this;
}
export interface StatusMessage extends JspbMessage {
  setState(v: string): this;
  setAddress(v: string): this;
  setAddressesList(v: AddressMessage[]): this;
  setPortsList(v: PortMessage[]): this;
  setPlayers(v: PlayerStatusMessage): this;
  getCountersMap(): JspbMap<string, CounterStatusMessage>;
  getListsMap(): JspbMap<string, ListStatusMessage>;
}
export interface GameServerMessage extends JspbMessage {
  setObjectMeta(v: ObjectMetaMessage): this;
  setSpec(v: SpecMessage): this;
  setStatus(v: StatusMessage): this;
}

export interface SdkPb {
  Empty: Ctor<JspbMessage>;
  GameServer: Ctor<GameServerMessage> & {
    ObjectMeta: Ctor<ObjectMetaMessage>;
    Spec: Ctor<SpecMessage> & { Health: Ctor<HealthMessage> };
    Status: Ctor<StatusMessage> & {
      Address: Ctor<AddressMessage>;
      Port: Ctor<PortMessage>;
      PlayerStatus: Ctor<PlayerStatusMessage>;
      CounterStatus: Ctor<CounterStatusMessage>;
      ListStatus: Ctor<ListStatusMessage>;
    };
  };
}

// agones.dev.sdk.alpha
export interface PlayerIdMessage extends JspbMessage {
  getPlayerid(): string;
}
export interface CountMessage extends JspbMessage {
  getCount(): number;
  setCount(v: number): this;
}
export interface BoolMessage extends JspbMessage {
  setBool(v: boolean): this;
}
export interface PlayerIdListMessage extends JspbMessage {
  setListList(v: string[]): this;
}
export interface AlphaPb {
  Empty: Ctor<JspbMessage>;
  Count: Ctor<CountMessage>;
  Bool: Ctor<BoolMessage>;
  PlayerIDList: Ctor<PlayerIdListMessage>;
}

// agones.dev.sdk.beta
export interface Int64ValueMessage extends JspbMessage {
  getValue(): number;
}
export interface FieldMaskMessage extends JspbMessage {
  getPathsList(): string[];
}
export interface NameRequestMessage extends JspbMessage {
  getName(): string;
}
export interface NameValueRequestMessage extends NameRequestMessage {
  getValue(): string;
}
export interface CounterUpdateRequestMessage extends JspbMessage {
  getName(): string;
  hasCount(): boolean;
  getCount(): Int64ValueMessage | undefined;
  hasCapacity(): boolean;
  getCapacity(): Int64ValueMessage | undefined;
  getCountdiff(): number;
}
export interface UpdateCounterRequestMessage extends JspbMessage {
  getCounterupdaterequest(): CounterUpdateRequestMessage | undefined;
}
export interface CounterMessage extends JspbMessage {
  setName(v: string): this;
  setCount(v: number): this;
  setCapacity(v: number): this;
}
export interface ListMessage extends JspbMessage {
  getName(): string;
  getCapacity(): number;
  getValuesList(): string[];
  setName(v: string): this;
  setCapacity(v: number): this;
  setValuesList(v: string[]): this;
}
export interface UpdateListRequestMessage extends JspbMessage {
  getList(): ListMessage | undefined;
  getUpdateMask(): FieldMaskMessage | undefined;
}
export interface BetaPb {
  Counter: Ctor<CounterMessage>;
  List: Ctor<ListMessage>;
}

export interface AgonesSdkProtos {
  sdk: { pb: SdkPb; service: ServiceDefinition };
  alpha: { pb: AlphaPb; service: ServiceDefinition };
  beta: { pb: BetaPb; service: ServiceDefinition };
}

let loaded: AgonesSdkProtos | undefined;

/** Loads the SDK package's generated modules once, after making their map fields serializable. */
export function agonesSdkProtos(): AgonesSdkProtos {
  if (loaded) return loaded;
  installJspbMapPolyfill();
  const requireSdk = createRequire(createRequire(import.meta.url).resolve('@google-cloud/agones-sdk/package.json'));
  const load = <T>(file: string): T => requireSdk(`./lib/${file}`) as T;
  const service = (file: string, name: string): ServiceDefinition => {
    const definition = load<Record<string, ServiceDefinition | undefined>>(file)[name];
    if (!definition) throw new Error(`@google-cloud/agones-sdk/lib/${file} does not define the service ${name}`);
    return definition;
  };
  loaded = {
    sdk: { pb: load<SdkPb>('sdk_pb.js'), service: service('sdk_grpc_pb.js', 'agones.dev.sdk.SDK') },
    alpha: { pb: load<AlphaPb>('alpha/alpha_pb.js'), service: service('alpha/alpha_grpc_pb.js', 'agones.dev.sdk.alpha.SDK') },
    beta: { pb: load<BetaPb>('beta/beta_pb.js'), service: service('beta/beta_grpc_pb.js', 'agones.dev.sdk.beta.SDK') },
  };
  return loaded;
}
