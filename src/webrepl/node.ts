/** WebREPL's Node edges: the client Transport (over `ws`) and the virtual device's server. */
export {
  connectWebRepl,
  WebReplAuthError,
  WebReplClient,
  WebReplConnectError,
  type WebReplClientOptions,
} from './webrepl-client.js';
export { startWebReplServer, type WebReplDeviceStream, type WebReplServer, type WebReplServerOptions } from './webrepl-server.js';
