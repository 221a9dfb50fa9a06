import type { GameServer } from '../../core/game-server.js';
import type { AgonesSdkProtos, GameServerMessage } from './agones-sdk-protos.js';
import type { SdkFeatureGates } from './sdk-feature-gates.js';

const epochSeconds = (rfc3339: string): number => Math.floor(Date.parse(rfc3339) / 1000);

/**
 * The record as the SDK's GameServer message, field for field as Agones' convert() (sdk.go) does:
 * timestamps as epoch seconds, players only with PlayerTracking, counters and lists only with
 * CountsAndLists.
 */
export function toGameServerProto(gs: GameServer, gates: SdkFeatureGates, { sdk: { pb } }: AgonesSdkProtos): GameServerMessage {
  const { metadata, spec, status } = gs;

  const meta = new pb.GameServer.ObjectMeta()
    .setName(metadata.name)
    .setNamespace(metadata.namespace)
    .setUid(metadata.uid)
    .setResourceVersion(metadata.resourceVersion)
    .setGeneration(metadata.generation)
    .setCreationTimestamp(epochSeconds(metadata.creationTimestamp));
  if (metadata.deletionTimestamp) meta.setDeletionTimestamp(epochSeconds(metadata.deletionTimestamp));
  for (const [k, v] of Object.entries(metadata.labels)) meta.getLabelsMap().set(k, v);
  for (const [k, v] of Object.entries(metadata.annotations)) meta.getAnnotationsMap().set(k, v);

  const health = new pb.GameServer.Spec.Health()
    .setDisabled(spec.health.disabled)
    .setPeriodSeconds(spec.health.periodSeconds)
    .setFailureThreshold(spec.health.failureThreshold)
    .setInitialDelaySeconds(spec.health.initialDelaySeconds);

  const st = new pb.GameServer.Status()
    .setState(status.state)
    .setAddress(status.address)
    .setAddressesList(status.addresses.map((a) => new pb.GameServer.Status.Address().setType(a.type).setAddress(a.address)))
    .setPortsList(status.ports.map((p) => new pb.GameServer.Status.Port().setName(p.name).setPort(p.port)));
  if (gates.PlayerTracking && status.players) {
    st.setPlayers(
      new pb.GameServer.Status.PlayerStatus().setCount(status.players.count).setCapacity(status.players.capacity).setIdsList([...status.players.ids]),
    );
  }
  if (gates.CountsAndLists) {
    for (const [k, c] of Object.entries(status.counters)) {
      st.getCountersMap().set(k, new pb.GameServer.Status.CounterStatus().setCount(c.count).setCapacity(c.capacity));
    }
    for (const [k, l] of Object.entries(status.lists)) {
      st.getListsMap().set(k, new pb.GameServer.Status.ListStatus().setCapacity(l.capacity).setValuesList([...l.values]));
    }
  }

  return new pb.GameServer().setObjectMeta(meta).setSpec(new pb.GameServer.Spec().setHealth(health)).setStatus(st);
}
