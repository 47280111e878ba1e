/**
 * jupyter-apolo's JupyterLab plugin: the "Apolo" sidebar and the `apolo:refresh` command.
 */
import {
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette } from '@jupyterlab/apputils';
import { CommandToolbarButton, refreshIcon } from '@jupyterlab/ui-components';

import { ApoloSidebar, SIDEBAR_ID } from './sidebar';

/** Command ids. */
export namespace CommandIDs {
  export const refresh = 'apolo:refresh';
}

const plugin: JupyterFrontEndPlugin<void> = {
  id: 'jupyter-apolo:plugin',
  description: 'The Apolo platform in JupyterLab: who you are connected as.',
  autoStart: true,
  optional: [ICommandPalette, ILayoutRestorer],
  activate: (
    app: JupyterFrontEnd,
    palette: ICommandPalette | null,
    restorer: ILayoutRestorer | null
  ) => {
    const sidebar = new ApoloSidebar();

    app.commands.addCommand(CommandIDs.refresh, {
      label: 'Refresh Apolo Connection',
      caption: 'Ask the Jupyter server again which Apolo user, cluster and project it uses',
      icon: args => (args.toolbar ? refreshIcon : undefined),
      execute: () => sidebar.refresh()
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
    palette?.addItem({ command: CommandIDs.refresh, category: 'Apolo' });

    app.shell.add(sidebar, 'left', { rank: 850 });
    restorer?.add(sidebar, SIDEBAR_ID);
    void sidebar.refresh();
  }
};

export default plugin;
