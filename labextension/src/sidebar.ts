/**
 * The "Apolo" left-sidebar panel: who the server extension is connected to the platform as.
 */
import { ITranslator } from '@jupyterlab/translation';
import { SidePanel, Toolbar } from '@jupyterlab/ui-components';
import { Panel, Widget } from '@lumino/widgets';

import { ConnectionPanel } from './components';
import { apoloIcon } from './icon';
import { IApoloConnection, TRANSLATION_DOMAIN } from './tokens';

/** Widget id of the sidebar (also the layout-restorer key). */
export const SIDEBAR_ID = 'jupyter-apolo:sidebar';

/** The sidebar: a header (title and `buttons`) over the connection's state. */
export class ApoloSidebar extends SidePanel {
  constructor(connection: IApoloConnection, translator: ITranslator) {
    super({ content: new Panel(), translator });
    const trans = translator.load(TRANSLATION_DOMAIN);
    this.id = SIDEBAR_ID;
    this.addClass('jp-Apolo-sidebar');
    this.title.icon = apoloIcon;
    this.title.caption = trans.__('Apolo');

    // Title and buttons share one header row, as in JupyterLab's own side panels.
    const heading = new Widget({ node: document.createElement('h2') });
    heading.addClass('jp-Apolo-heading');
    heading.addClass('jp-text-truncated');
    heading.node.textContent = trans.__('Apolo');
    this.header.addWidget(heading);
    this.buttons = new Toolbar();
    this.buttons.addClass('jp-Apolo-buttons');
    this.header.addWidget(this.buttons);
    this.addWidget(new ConnectionPanel(connection, trans));
  }

  /** Buttons at the right of the header. */
  readonly buttons: Toolbar;
}
