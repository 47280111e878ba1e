import { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';

import { ConnectionState, SUPPORTED_API } from '../tokens';
import { Identity } from './Identity';
import { Notice } from './Notice';

/** The fix shown when the server extension is absent or speaks another API version. */
export function missingExtensionText(trans: TranslationBundle): string {
  return trans.__(
    'server extension missing or outdated: `pip install jupyter-apolo` and restart JupyterLab'
  );
}

/**
 * One connection state, as the sidebar shows it. The root carries `data-state` (the state's
 * kind) so tests and styles can tell the states apart.
 */
export function ConnectionView(props: {
  state: ConnectionState;
  trans: TranslationBundle;
}): JSX.Element {
  const { state, trans } = props;
  return (
    <div className="jp-Apolo-body" data-state={state.kind}>
      {body(state, trans)}
    </div>
  );
}

function body(state: ConnectionState, trans: TranslationBundle): JSX.Element {
  switch (state.kind) {
    case 'loading':
      return (
        <p className="jp-Apolo-loading">{trans.__('Connecting to Apolo…')}</p>
      );
    case 'connected':
      return <Identity context={state.context} trans={trans} />;
    case 'missing-extension':
      return (
        <Notice
          kind="warning"
          headline={trans.__('Apolo is not available')}
          text={missingExtensionText(trans)}
          details={[
            state.server
              ? trans.__(
                  'server extension %1 speaks API %2, this UI needs %3',
                  state.server.version ?? '?',
                  String(state.server.api),
                  String(SUPPORTED_API)
                )
              : trans.__('GET apolo/version answered 404')
          ]}
        />
      );
    case 'unconfigured':
      return (
        <Notice
          kind="warning"
          headline={trans.__('Not connected to an Apolo platform')}
          text={state.error}
          details={[state.fix]}
        />
      );
    case 'error':
      return (
        <Notice
          kind="error"
          headline={trans.__('Cannot load the Apolo connection')}
          text={
            state.unreachable
              ? trans.__('Cannot reach the Jupyter server: %1', state.error)
              : state.error
          }
        />
      );
  }
}
