/**
 * The shape both the WebSocket bridge and the api client expose: `x.group.leaf(args)`
 * for any method name, plus `on`. Built as a Proxy because the renderer may import
 * only types from the contract, so it cannot enumerate the methods itself.
 */

/** An object where `proxy.group.leaf(args)` calls `call('group.leaf', args)` and `proxy.on` is `on`. */
export function methodProxy(call: (method: string, args: unknown) => Promise<unknown>, on: unknown): unknown {
  const groups = new Map<string, object>();
  return new Proxy(
    {},
    {
      get(_target, group) {
        if (group === 'on') return on;
        // `then` must stay undefined, or awaiting the proxy would call it.
        if (typeof group !== 'string' || group === 'then') return undefined;
        let g = groups.get(group);
        if (!g) {
          g = new Proxy(
            {},
            {
              get(_t, leaf) {
                if (typeof leaf !== 'string' || leaf === 'then') return undefined;
                return (args?: unknown) => call(`${group}.${leaf}`, args);
              },
            },
          );
          groups.set(group, g);
        }
        return g;
      },
    },
  );
}
