// Every number of Hangar's netcode, named once. PROTOCOL.md (next to this file) explains each; the
// sizes are spelt out field by field so the arithmetic can be checked against the spec.

/**
 * Hangar's own protocol id ("HANGAR" then the wire revision): servers ignore tokens and packets of
 * any other. 0x0002: acks carry the ack delay.
 */
export const HANGAR_PROTOCOL_ID = 0x48414e4741520002n;

/** The first two bytes of every packet ("HG"); anything else is not our traffic. */
export const MAGIC_0 = 0x48;
export const MAGIC_1 = 0x47;
// 2: packets sealed with ChaCha20-Poly1305 (1 sealed them with AES-256-GCM; same layout).
export const PROTOCOL_VERSION = 2;

export const PREFIX_BYTES = 2 /* magic */ + 1 /* version */ + 1 /* packet type */;
export const SEQUENCE_BYTES = 6; // u48: never wraps (2^48 packets at 1,000/s is 8,900 years)
export const PROTOCOL_ID_BYTES = 8;
export const TIMESTAMP_BYTES = 8; // u64 milliseconds since the Unix epoch
export const KEY_BYTES = 32;
export const NONCE_BYTES = 12;
export const TAG_BYTES = 16;

/** Clear header and tag around every encrypted packet's body. */
export const ENCRYPTED_OVERHEAD = PREFIX_BYTES + SEQUENCE_BYTES + TAG_BYTES;
/** Additional data of every encrypted packet: its own prefix, then the protocol id. */
export const PACKET_AD_BYTES = PREFIX_BYTES + PROTOCOL_ID_BYTES;

/**
 * Messages of one payload packet, headers included: the netcode standard's 1,200 bytes less the
 * ack delay's 2, so that the largest datagram still fits IPv6's minimum MTU.
 */
export const MAX_PAYLOAD_BYTES = 1198;
export const ACK_HEADER_BYTES = 2 /* ack (low 16 bits) */ + 4 /* ack bits */ + 2 /* ack delay */;
/** The ack delay counts in units of this many µs: 16 µs steps up to 1.05 s (longer is sent as the most). */
export const ACK_DELAY_UNIT_US = 16;
export const MAX_ACK_DELAY_UNITS = 0xffff;
export const UNRELIABLE_MESSAGE_HEADER_BYTES = 1 /* channel */ + 2 /* length */;
export const RELIABLE_MESSAGE_HEADER_BYTES = 1 /* channel */ + 2 /* message id */ + 2 /* length */;
export const MAX_UNRELIABLE_MESSAGE_BYTES = MAX_PAYLOAD_BYTES - UNRELIABLE_MESSAGE_HEADER_BYTES;
export const MAX_RELIABLE_MESSAGE_BYTES = MAX_PAYLOAD_BYTES - RELIABLE_MESSAGE_HEADER_BYTES;
/** The largest datagram either side sends or accepts: 1,232 bytes + 48 of IPv6/UDP headers = IPv6's minimum MTU. */
export const MAX_PACKET_BYTES = ENCRYPTED_OVERHEAD + ACK_HEADER_BYTES + MAX_PAYLOAD_BYTES;

export const KEEP_ALIVE_PACKET_BYTES = ENCRYPTED_OVERHEAD + ACK_HEADER_BYTES;
export const DISCONNECT_PACKET_BYTES = ENCRYPTED_OVERHEAD;
export const DENIED_PACKET_BYTES = ENCRYPTED_OVERHEAD + 1 /* reason */;

// The connect token's private part: fixed size so that every connection request has the same size.
export const PRIVATE_TOKEN_BYTES = 1024; // ciphertext + tag
export const PRIVATE_TOKEN_PLAINTEXT_BYTES = PRIVATE_TOKEN_BYTES - TAG_BYTES;
export const MAX_SERVER_ID_BYTES = 253; // a Kubernetes object name
export const MAX_PLAYER_ID_BYTES = 128;
export const MAX_USER_DATA_BYTES = 256;
export const MAX_SERVER_ADDRESSES = 32;
export const MAX_ADDRESS_BYTES = 255;
export const DEFAULT_TIMEOUT_SECONDS = 5;
export const MAX_TIMEOUT_SECONDS = 3600;

/** The connection request, padded so that nothing the server says before a handshake completes is larger. */
export const REQUEST_PACKET_BYTES = 1100;
export const REQUEST_UNPADDED_BYTES = PREFIX_BYTES + PROTOCOL_ID_BYTES + TIMESTAMP_BYTES /* expires at */ + NONCE_BYTES + PRIVATE_TOKEN_BYTES;

// The challenge token: the server's sealed memo of a valid request, echoed back in the response.
export const CHALLENGE_SEQUENCE_BYTES = 8;
export const CHALLENGE_PLAINTEXT_FIXED_BYTES =
  TAG_BYTES /* connect token tag */ + TIMESTAMP_BYTES /* challenge expires at */ + 2 /* timeout seconds */ + 2 * KEY_BYTES + 1 /* player id length */ + 2; /* user data length */
export const MIN_CHALLENGE_TOKEN_BYTES = CHALLENGE_SEQUENCE_BYTES + CHALLENGE_PLAINTEXT_FIXED_BYTES + 1 /* shortest player id */ + TAG_BYTES;
export const MAX_CHALLENGE_TOKEN_BYTES = CHALLENGE_SEQUENCE_BYTES + CHALLENGE_PLAINTEXT_FIXED_BYTES + MAX_PLAYER_ID_BYTES + MAX_USER_DATA_BYTES + TAG_BYTES;
export const MAX_CHALLENGE_PACKET_BYTES = ENCRYPTED_OVERHEAD + MAX_CHALLENGE_TOKEN_BYTES;
export const MIN_RESPONSE_PACKET_BYTES = PREFIX_BYTES + MIN_CHALLENGE_TOKEN_BYTES;
export const MAX_RESPONSE_PACKET_BYTES = PREFIX_BYTES + MAX_CHALLENGE_TOKEN_BYTES;

/**
 * Sequence numbers of the server's challenge and denied packets have this bit set (and start at a
 * random point), so under one key they never meet the connection's own 0, 1, 2... sequence: a
 * nonce is never used twice.
 */
export const HANDSHAKE_SEQUENCE_BIT = 2 ** 47;

// Replay protection, acks and the reliable channel.
export const REPLAY_WINDOW_SIZE = 256;
export const ACK_BITS = 32;
/** Sent packets remembered for acks (a power of two). */
export const SENT_PACKETS_SIZE = 256;
/** Reliable messages in flight (sent, not yet acked) per direction (a power of two, far below 2^15). */
export const RELIABLE_WINDOW_SIZE = 256;
/** A reliable message unacked for this long (or 1.5 round trips, if longer) goes out again. */
export const RELIABLE_RESEND_MS = 100;

// Timing.
/** A side that has sent nothing for this long sends a keep-alive (10 Hz, as netcode). */
export const KEEP_ALIVE_INTERVAL_MS = 100;
/** Intervals are due this much early: three 30 Hz ticks are 99.99 ms, and should count as 100. */
export const TIMER_SLACK_MS = 1;
/** A connecting client repeats its request or response this often. */
export const HANDSHAKE_RESEND_MS = 100;
/** Disconnect packets sent in a row, so one of them gets through without any acking. */
export const DISCONNECT_PACKET_COUNT = 3;
/** How often the server forgets token bindings whose tokens have expired. */
export const TOKEN_BINDING_PRUNE_MS = 1000;
