// The packet AEAD (PROTOCOL.md, "Cryptography"): ChaCha20-Poly1305 as RFC 8439 defines it, from the
// OpenSSL that node itself is linked with, behind a binding shaped for the netcode's hot path. A
// call takes the packet buffer and integers only: the nonce (the key's 6 leading bytes, zero in
// the protocol, then the packet's u48 sequence) and the additional data (the packet's 4-byte prefix,
// then the key's protocol id) come from the key and the packet's own header, so no typed array is
// made or passed for them. Each key holds an EVP context keyed once, so a packet sets an IV and
// runs the cipher, no key setup. Lengths are checked here, against the buffers' own, before any
// byte is read or written.
//
// Packet layout this file relies on (packet-codec.ts): prefix [0, 4), sequence [4, 10), sealed
// body from 10, its 16-byte tag last.

#include <node_api.h>
#include <openssl/evp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define KEY_BYTES 32
#define PROTOCOL_ID_BYTES 8
#define PREFIX_BYTES 4
#define SEQUENCE_BYTES 6
#define BODY_OFFSET (PREFIX_BYTES + SEQUENCE_BYTES)
#define TAG_BYTES 16
#define NONCE_BYTES 12
#define NONCE_HEAD_BYTES (NONCE_BYTES - SEQUENCE_BYTES)
#define AD_BYTES (PREFIX_BYTES + PROTOCOL_ID_BYTES)
#define OVERHEAD (BODY_OFFSET + TAG_BYTES)
#define MAX_ARGS 4

typedef struct {
  EVP_CIPHER_CTX *ctx;
  uint8_t nonce_head[NONCE_HEAD_BYTES];
  uint8_t protocol_id[PROTOCOL_ID_BYTES];
} packet_key;

// Fails a call with a JavaScript exception; every entry point returns NULL right after.
static napi_value fail(napi_env env, int type_error, const char *message) {
  if (type_error) napi_throw_type_error(env, "ERR_PACKET_AEAD_ARGUMENT", message);
  else napi_throw_range_error(env, "ERR_PACKET_AEAD_ARGUMENT", message);
  return NULL;
}

static int get_args(napi_env env, napi_callback_info info, size_t expected, napi_value *argv) {
  size_t argc = MAX_ARGS;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return 0;
  if (argc != expected) {
    fail(env, 1, "packet-aead: wrong number of arguments");
    return 0;
  }
  return 1;
}

static int get_bytes(napi_env env, napi_value value, uint8_t **data, size_t *length, const char *what) {
  bool is_buffer = false;
  if (napi_is_buffer(env, value, &is_buffer) != napi_ok || !is_buffer) {
    fail(env, 1, what);
    return 0;
  }
  return napi_get_buffer_info(env, value, (void **)data, length) == napi_ok;
}

// The arguments of seal and open, the first of them a packet key, which this returns; NULL when
// they are wrong.
static packet_key *get_key_and_args(napi_env env, napi_callback_info info, size_t expected, napi_value *argv) {
  napi_valuetype type;
  void *key = NULL;
  if (!get_args(env, info, expected, argv)) return NULL;
  if (napi_typeof(env, argv[0], &type) != napi_ok || type != napi_external || napi_get_value_external(env, argv[0], &key) != napi_ok) {
    fail(env, 1, "packet-aead: the key is not a packet key (aead.ts, packetKey)");
    return NULL;
  }
  return key;
}

// Starts sealing (encrypt 1) or opening (0) the packet whose header `packet` starts with: its
// nonce is the key's nonce head then the packet's sequence, its additional data the packet's
// prefix then the key's protocol id.
static int start_packet(packet_key *key, const uint8_t *packet, int encrypt) {
  uint8_t nonce[NONCE_BYTES], ad[AD_BYTES];
  int written;
  memcpy(nonce, key->nonce_head, NONCE_HEAD_BYTES);
  memcpy(nonce + NONCE_HEAD_BYTES, packet + PREFIX_BYTES, SEQUENCE_BYTES);
  memcpy(ad, packet, PREFIX_BYTES);
  memcpy(ad + PREFIX_BYTES, key->protocol_id, PROTOCOL_ID_BYTES);
  return EVP_CipherInit_ex(key->ctx, NULL, NULL, NULL, nonce, encrypt) == 1 && EVP_CipherUpdate(key->ctx, NULL, &written, ad, AD_BYTES) == 1;
}

static void free_key(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  packet_key *key = data;
  EVP_CIPHER_CTX_free(key->ctx); // cleanses the key schedule
  free(key);
}

// createKey(key: Buffer of 32 bytes, protocolId: bigint, nonceHead: Buffer of 6 bytes): an opaque
// packet key, freed when collected.
static napi_value create_key(napi_env env, napi_callback_info info) {
  napi_value argv[MAX_ARGS];
  if (!get_args(env, info, 3, argv)) return NULL;
  uint8_t *raw;
  size_t raw_length;
  if (!get_bytes(env, argv[0], &raw, &raw_length, "packet-aead: the key is not a Buffer")) return NULL;
  if (raw_length != KEY_BYTES) return fail(env, 0, "packet-aead: a packet key is 32 bytes");
  uint64_t protocol_id;
  bool lossless;
  if (napi_get_value_bigint_uint64(env, argv[1], &protocol_id, &lossless) != napi_ok) return fail(env, 1, "packet-aead: the protocol id is not a bigint");
  if (!lossless) return fail(env, 0, "packet-aead: the protocol id is not a u64");
  uint8_t *nonce_head;
  size_t nonce_head_length;
  if (!get_bytes(env, argv[2], &nonce_head, &nonce_head_length, "packet-aead: the nonce head is not a Buffer")) return NULL;
  if (nonce_head_length != NONCE_HEAD_BYTES) return fail(env, 0, "packet-aead: a nonce head is 6 bytes");

  packet_key *key = malloc(sizeof *key);
  if (key == NULL) return fail(env, 0, "packet-aead: out of memory");
  key->ctx = EVP_CIPHER_CTX_new();
  if (key->ctx == NULL || EVP_CipherInit_ex(key->ctx, EVP_chacha20_poly1305(), NULL, raw, NULL, 1) != 1) {
    EVP_CIPHER_CTX_free(key->ctx);
    free(key);
    napi_throw_error(env, "ERR_PACKET_AEAD_OPENSSL", "packet-aead: OpenSSL could not set up ChaCha20-Poly1305");
    return NULL;
  }
  memcpy(key->nonce_head, nonce_head, NONCE_HEAD_BYTES);
  for (int i = 0; i < PROTOCOL_ID_BYTES; i++) key->protocol_id[i] = (uint8_t)(protocol_id >> (8 * (PROTOCOL_ID_BYTES - 1 - i)));

  napi_value external;
  if (napi_create_external(env, key, free_key, NULL, &external) != napi_ok) {
    free_key(env, key, NULL);
    return NULL;
  }
  return external;
}

// seal(key, body: Buffer, bodyLength, packet: Buffer of 26 + bodyLength bytes, its prefix and
// sequence written): seals body[0, bodyLength) into the packet at 10, its tag right after.
static napi_value seal_packet(napi_env env, napi_callback_info info) {
  napi_value argv[MAX_ARGS];
  packet_key *key = get_key_and_args(env, info, 4, argv);
  if (key == NULL) return NULL;
  uint8_t *body, *packet;
  size_t body_capacity, packet_length;
  uint32_t body_length;
  if (!get_bytes(env, argv[1], &body, &body_capacity, "packet-aead: the body is not a Buffer")) return NULL;
  if (napi_get_value_uint32(env, argv[2], &body_length) != napi_ok) return fail(env, 1, "packet-aead: the body length is not a number");
  if (!get_bytes(env, argv[3], &packet, &packet_length, "packet-aead: the packet is not a Buffer")) return NULL;
  if (body_length > body_capacity) return fail(env, 0, "packet-aead: the body length is past the body buffer's end");
  if (body_length > INT32_MAX) return fail(env, 0, "packet-aead: the body is too long");
  if (packet_length != (size_t)body_length + OVERHEAD) return fail(env, 0, "packet-aead: the packet buffer is not 26 bytes longer than the body");

  uint8_t *sealed = packet + BODY_OFFSET;
  int written;
  if (!start_packet(key, packet, 1)
      || (body_length > 0 && EVP_CipherUpdate(key->ctx, sealed, &written, body, (int)body_length) != 1)
      || EVP_CipherFinal_ex(key->ctx, sealed + body_length, &written) != 1
      || EVP_CIPHER_CTX_ctrl(key->ctx, EVP_CTRL_AEAD_GET_TAG, TAG_BYTES, sealed + body_length) != 1) {
    napi_throw_error(env, "ERR_PACKET_AEAD_OPENSSL", "packet-aead: OpenSSL failed to seal");
  }
  return NULL;
}

// open(key, packet: Buffer of 26 bytes or more): true when its tag verifies, the body then
// decrypted in place at 10; false when it does not (the body's bytes are then unusable).
static napi_value open_packet(napi_env env, napi_callback_info info) {
  napi_value argv[MAX_ARGS];
  packet_key *key = get_key_and_args(env, info, 2, argv);
  if (key == NULL) return NULL;
  uint8_t *packet;
  size_t packet_length;
  if (!get_bytes(env, argv[1], &packet, &packet_length, "packet-aead: the packet is not a Buffer")) return NULL;
  if (packet_length < OVERHEAD) return fail(env, 0, "packet-aead: a sealed packet is at least 26 bytes");
  if (packet_length - OVERHEAD > INT32_MAX) return fail(env, 0, "packet-aead: the packet is too long");

  uint8_t *body = packet + BODY_OFFSET;
  int body_length = (int)(packet_length - OVERHEAD);
  int written;
  if (!start_packet(key, packet, 0)
      || (body_length > 0 && EVP_CipherUpdate(key->ctx, body, &written, body, body_length) != 1)
      || EVP_CIPHER_CTX_ctrl(key->ctx, EVP_CTRL_AEAD_SET_TAG, TAG_BYTES, body + body_length) != 1) {
    napi_throw_error(env, "ERR_PACKET_AEAD_OPENSSL", "packet-aead: OpenSSL failed to open");
    return NULL;
  }
  napi_value verified;
  napi_get_boolean(env, EVP_CipherFinal_ex(key->ctx, body + body_length, &written) == 1, &verified);
  return verified;
}

NAPI_MODULE_INIT() {
  napi_property_descriptor functions[] = {
    {"createKey", NULL, create_key, NULL, NULL, NULL, napi_enumerable, NULL},
    {"seal", NULL, seal_packet, NULL, NULL, NULL, napi_enumerable, NULL},
    {"open", NULL, open_packet, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  if (napi_define_properties(env, exports, sizeof functions / sizeof functions[0], functions) != napi_ok) return NULL;
  return exports;
}
