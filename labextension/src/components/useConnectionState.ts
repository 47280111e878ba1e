import * as React from 'react';

import { ConnectionState, IApoloConnection } from '../tokens';

/**
 * The connection's current state, re-rendering on every `stateChanged`.
 *
 * `useSyncExternalStore` rather than `UseSignal`: `UseSignal` connects in `componentDidMount`,
 * so a change emitted between its first render and its mount is lost and the view stays on
 * "Connecting…" (the connection plugin starts loading before any panel renders). This hook
 * re-reads the state once subscribed.
 */
export function useConnectionState(
  connection: IApoloConnection
): ConnectionState {
  const subscribe = React.useCallback(
    (onChange: () => void) => {
      const slot = (): void => onChange();
      connection.stateChanged.connect(slot);
      return () => {
        connection.stateChanged.disconnect(slot);
      };
    },
    [connection]
  );
  return React.useSyncExternalStore(subscribe, () => connection.state);
}
