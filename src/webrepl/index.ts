/**
 * WebREPL, the pure part (browser-safe: no Node imports): protocol constants and
 * codecs, login, file transfer for both sides, the board's WebSocket subset.
 * Node edges: ./node.js (connectWebRepl, startWebReplServer).
 */
export * from './webrepl-protocol.js';
export * from './file-transfer.js';
export * from './board-websocket.js';
