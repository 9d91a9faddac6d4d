/** Lambda: webhook receiver (same routes as the API function; deployed separately, without gateway auth). */
export { handler } from "./api.ts";
