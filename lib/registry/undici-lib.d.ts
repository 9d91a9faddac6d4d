// Declarations for the undici files undici-lite.ts imports by path (undici types only its index).
declare module "undici/lib/dispatcher/agent.js" {
  const Agent: typeof import("undici").Agent;
  export default Agent;
}
declare module "undici/lib/api/index.js" {
  const api: Record<string, unknown>;
  export default api;
}
declare module "undici/lib/dispatcher/dispatcher.js" {
  const Dispatcher: { prototype: object };
  export default Dispatcher;
}
