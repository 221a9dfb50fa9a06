import { createRequire } from 'node:module';

// The SDK package's generated *_pb.js files (protoc-gen-js of the grpc-tools 1.11 era) call
// `jspb.Map.prototype.serializeBinary` for every non-empty map field (labels, annotations,
// counters, lists). google-protobuf 4, which the package pins, removed that method
// (protocolbuffers/protobuf-javascript #249, #281), so a server built from the package's own
// definitions fails with "f.serializeBinary is not a function" (13 INTERNAL at the client). Clients
// only decode maps, which still works; only a server needs this.

interface JspbWriter {
  writeMessage(field: number, value: unknown, write: (value: unknown, writer: JspbWriter) => void): void;
}

/** A BinaryWriter method such as writeString or writeMessage, as the generated code passes it. */
type WriterMethod = (this: JspbWriter, field: number, value: unknown, callback?: unknown) => void;

interface JspbMapPrototype {
  keys(): Iterable<string | number | boolean>;
  get(key: string | number | boolean): unknown;
  serializeBinary?: (field: number, writer: JspbWriter, writeKey: WriterMethod, writeValue: WriterMethod, valueCallback?: unknown) => void;
}

/** The google-protobuf the SDK package itself resolves: it may be nested rather than hoisted. */
function sdkGoogleProtobuf(): { Map: { prototype: JspbMapPrototype } } {
  const sdkPackageJson = createRequire(import.meta.url).resolve('@google-cloud/agones-sdk/package.json');
  return createRequire(sdkPackageJson)('google-protobuf') as { Map: { prototype: JspbMapPrototype } };
}

/**
 * Restores `jspb.Map.prototype.serializeBinary` on the SDK package's google-protobuf. Idempotent;
 * leaves a runtime that still has the method alone. Wire format of a map field: one
 * length-delimited entry per key, `{1: key, 2: value}`.
 */
export function installJspbMapPolyfill(): void {
  const mapPrototype = sdkGoogleProtobuf().Map.prototype;
  if (typeof mapPrototype.serializeBinary === 'function') return;
  mapPrototype.serializeBinary = function serializeBinary(this: JspbMapPrototype, field, writer, writeKey, writeValue, valueCallback) {
    for (const key of this.keys()) {
      const value = this.get(key);
      // The map itself stands in as the (never null) message the writer expects.
      writer.writeMessage(field, this, (_entry, entryWriter) => {
        writeKey.call(entryWriter, 1, key);
        if (valueCallback) writeValue.call(entryWriter, 2, value, valueCallback);
        else writeValue.call(entryWriter, 2, value);
      });
    }
  };
}
