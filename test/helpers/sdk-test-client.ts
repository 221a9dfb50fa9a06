import { AgonesSDK, type AgonesSdkClient } from '../../gameserver/agones-sdk.js';

// The official Node SDK client for tests, with its raw grpc-js clients exposed for the few
// requests its methods cannot express (UpdateList with explicit mask paths, a raw watch stream).

/** The raw grpc-js client objects inside the SDK. */
interface GrpcClient {
  close(): void;
  [method: string]: unknown;
}

export type SdkTestClient = AgonesSdkClient & {
  client: GrpcClient;
  alpha: AgonesSdkClient['alpha'] & { client: GrpcClient };
  beta: AgonesSdkClient['beta'] & { client: GrpcClient };
};

/**
 * A new SDK client for the server on `port`. The SDK reads AGONES_SDK_GRPC_PORT once, in its
 * constructor, so the variable is set right before.
 */
export function createSdkTestClient(port: number): SdkTestClient {
  process.env.AGONES_SDK_GRPC_PORT = String(port);
  return new AgonesSDK() as SdkTestClient;
}

/** sdk.close() closes only the core channel; tests close the alpha and beta channels too. */
export function closeSdkTestClient(sdk: SdkTestClient): void {
  sdk.close();
  sdk.alpha.client.close();
  sdk.beta.client.close();
}
