{
  "targets": [
    {
      "target_name": "packet_aead",
      "sources": ["packet_aead.c"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-Werror"],
      "defines": ["NAPI_VERSION=8"]
    }
  ]
}
