import { TranslationBundle } from '@jupyterlab/translation';
import { ReactWidget, UseSignal } from '@jupyterlab/ui-components';
import * as React from 'react';

import { ConnectionState, IApoloConnection } from '../tokens';
import { ConnectionView } from './ConnectionView';

/** A widget showing the connection's state, re-rendered on every `stateChanged`. */
export class ConnectionPanel extends ReactWidget {
  constructor(
    private readonly _connection: IApoloConnection,
    private readonly _trans: TranslationBundle
  ) {
    super();
    this.addClass('jp-Apolo-connection');
  }

  protected render(): JSX.Element {
    return (
      <UseSignal<IApoloConnection, ConnectionState>
        signal={this._connection.stateChanged}
        initialArgs={this._connection.state}
      >
        {(_, state) => (
          <ConnectionView
            state={state ?? this._connection.state}
            trans={this._trans}
          />
        )}
      </UseSignal>
    );
  }
}
