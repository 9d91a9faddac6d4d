/**
 * undici's Agent with its request API, and nothing else of the package. `import "undici"` loads
 * all of it (fetch, WebSocket, mocks, caches: ~960 KB of code in the CLI bundle), which every
 * `ferry copy` paid for in start-up time and about 9 MB of resident memory. The deep paths are
 * CommonJS files that undici's own index.js requires; the mixin below is the one its index.js
 * applies (`Object.assign(Dispatcher.prototype, api)`), so `agent.request()` is the same method.
 */
import type * as undici from "undici";
import AgentCtor from "undici/lib/dispatcher/agent.js";
import api from "undici/lib/api/index.js";
import Dispatcher from "undici/lib/dispatcher/dispatcher.js";

Object.assign(Dispatcher.prototype, api);

export const Agent: typeof undici.Agent = AgentCtor;
export type Agent = undici.Agent;
