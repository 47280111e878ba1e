/**
 * jupyter-apolo's JupyterLab plugins: the connection model (`IApoloConnection`, required by every
 * Apolo panel), the "Apolo" sidebar with the `apolo:refresh` command, the Jobs panel with the Share
 * dialog (`jobs/`), the storage drive (`drive/`: the "Apolo storage" file browser and the storage
 * commands) and the Notebooks panel (`notebooks/`).
 */
import {
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette } from '@jupyterlab/apputils';
import { ITranslator, nullTranslator } from '@jupyterlab/translation';
import { CommandToolbarButton, refreshIcon } from '@jupyterlab/ui-components';

// Both are needed at activation: the connection starts loading at once, the sidebar tab shows.
// eslint-disable-next-line jupyter/prefer-lazy-imports
import { ApoloConnection } from './connection';
// eslint-disable-next-line jupyter/prefer-lazy-imports
import { ApoloSidebar, SIDEBAR_ID } from './sidebar';
import { notebooksPlugin } from './notebooks';
import { CommandIDs, IApoloConnection, TRANSLATION_DOMAIN } from './tokens';
import { drivePlugin } from './drive/plugin';
import { jobsPlugin } from './jobs/plugin';

export * from './tokens';
export {
  ApoloResponseError,
  readNDJSON,
  requestAPI,
  requestNDJSON
} from './request';

/** Provides `IApoloConnection` and loads it once at startup. */
const connectionPlugin: JupyterFrontEndPlugin<IApoloConnection> = {
  id: 'jupyter-apolo:connection',
  description:
    'The connection to the jupyter-apolo server extension: who the user is on which Apolo platform.',
  autoStart: true,
  provides: IApoloConnection,
  activate: (app: JupyterFrontEnd): IApoloConnection => {
    const connection = new ApoloConnection({
      serverSettings: app.serviceManager.serverSettings
    });
    void connection.refresh();
    return connection;
  }
};

/** The "Apolo" sidebar and `apolo:refresh`. */
const sidebarPlugin: JupyterFrontEndPlugin<void> = {
  id: 'jupyter-apolo:plugin',
  description: 'The Apolo sidebar: who you are connected as, and where.',
  autoStart: true,
  requires: [IApoloConnection],
  optional: [ITranslator, ICommandPalette, ILayoutRestorer],
  activate: (
    app: JupyterFrontEnd,
    connection: IApoloConnection,
    translator: ITranslator | null,
    palette: ICommandPalette | null,
    restorer: ILayoutRestorer | null
  ) => {
    translator = translator ?? nullTranslator;
    const trans = translator.load(TRANSLATION_DOMAIN);
    const sidebar = new ApoloSidebar(connection, translator);

    app.commands.addCommand(CommandIDs.refresh, {
      label: trans.__('Refresh Apolo Connection'),
      caption: trans.__(
        'Ask the Jupyter server again which Apolo user, cluster and project it uses'
      ),
      icon: args => (args.toolbar ? refreshIcon : undefined),
      describedBy: { args: { type: 'object', properties: {} } },
      execute: () => connection.refresh()
    });
    sidebar.buttons.addItem(
      'refresh',
      new CommandToolbarButton({
        commands: app.commands,
        id: CommandIDs.refresh,
        args: { toolbar: true },
        label: ''
      })
    );
    palette?.addItem({
      command: CommandIDs.refresh,
      category: trans.__('Apolo')
    });

    app.shell.add(sidebar, 'left', { rank: 850 });
    restorer?.add(sidebar, SIDEBAR_ID);
  }
};

export default [
  connectionPlugin,
  sidebarPlugin,
  jobsPlugin,
  drivePlugin,
  notebooksPlugin
];
