// The timer functions every platform the client runs on has (browsers, Node,
// uni-app), declared here so that the build needs neither the DOM nor Node's types.
declare function setTimeout(fn: () => void, ms?: number): unknown;
declare function clearTimeout(id: unknown): void;
declare function setInterval(fn: () => void, ms?: number): unknown;
declare function clearInterval(id: unknown): void;
