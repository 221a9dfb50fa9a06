import { AppError, ErrorCode } from '../../core/errors.js';

/**
 * Why a datagram was dropped: the `reason` label of game_server_packets_rejected_total. The first
 * group are the codec's (ProtocolError); the rest are decisions of an endpoint.
 */
export const RejectReason = {
  // Malformed packets of our protocol (decodePacket throws a ProtocolError with one of these).
  Oversized: 'oversized',
  Truncated: 'truncated',
  BadVersion: 'bad-version',
  BadType: 'bad-type',
  BadLength: 'bad-length',
  BadProtocolId: 'bad-protocol-id',
  BadTag: 'bad-tag',
  BadBody: 'bad-body',
  // Well-formed, but not for us or not now.
  Foreign: 'foreign',
  UnexpectedType: 'unexpected-type',
  UnknownAddress: 'unknown-address',
  Replayed: 'replayed',
  TooOld: 'too-old',
  TokenExpired: 'token-expired',
  BadToken: 'bad-token',
  WrongServer: 'wrong-server',
  TokenInUse: 'token-in-use',
  TokenUsed: 'token-used',
  AddressConnected: 'address-connected',
  BadChallenge: 'bad-challenge',
  ChallengeExpired: 'challenge-expired',
  // Answered with a denied packet.
  ServerFull: 'server-full',
  PlayerConnected: 'player-connected',
} as const;
export type RejectReason = (typeof RejectReason)[keyof typeof RejectReason];

/** The reasons a malformed packet of our protocol is refused with. */
export type MalformedReason = Extract<RejectReason, 'oversized' | 'truncated' | 'bad-version' | 'bad-type' | 'bad-length' | 'bad-protocol-id' | 'bad-tag' | 'bad-body'>;

/** A datagram that is Hangar netcode (it starts with the magic) but malformed. */
export class ProtocolError extends AppError {
  constructor(readonly reason: MalformedReason) {
    super(ErrorCode.PROTOCOL_MALFORMED_PACKET, `malformed netcode packet: ${reason}`);
  }
}

/** A connect token that cannot be minted from these options, or read by a client. */
export class ConnectTokenError extends AppError {
  constructor(message: string) {
    super(ErrorCode.CONNECT_TOKEN_INVALID, message);
  }
}

/** A message larger than the most one packet can carry on its channel. */
export class MessageTooLargeError extends AppError {
  constructor(
    readonly bytes: number,
    readonly max: number,
    channel: string,
  ) {
    super(ErrorCode.MESSAGE_TOO_LARGE, `a ${bytes}-byte ${channel} message cannot fit one packet (at most ${max} bytes)`);
  }
}

/** A reliable message sent while the whole window of earlier ones is still unacknowledged. */
export class ReliableWindowFullError extends AppError {
  constructor(readonly window: number) {
    super(ErrorCode.RELIABLE_WINDOW_FULL, `${window} reliable messages are still unacknowledged: the peer is not keeping up`);
  }
}
