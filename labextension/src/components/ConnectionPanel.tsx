import { TranslationBundle } from '@jupyterlab/translation';
import { ReactWidget } from '@jupyterlab/ui-components';
import * as React from 'react';

import { IApoloConnection } from '../tokens';
import { ConnectionView } from './ConnectionView';
import { useConnectionState } from './useConnectionState';

/** The connection's state as the sidebar shows it, following every change. */
export function LiveConnectionView(props: {
  connection: IApoloConnection;
  trans: TranslationBundle;
}): JSX.Element {
  const state = useConnectionState(props.connection);
  return <ConnectionView state={state} trans={props.trans} />;
}

/** A Lumino widget around `LiveConnectionView`. */
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
      <LiveConnectionView connection={this._connection} trans={this._trans} />
    );
  }
}
