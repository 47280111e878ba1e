/**
 * The Notebooks side panel: a header (title, refresh) over `NotebooksView`, following the model.
 */
import { ITranslator } from '@jupyterlab/translation';
import {
  LabIcon,
  ReactWidget,
  SidePanel,
  Toolbar,
  ToolbarButton,
  refreshIcon
} from '@jupyterlab/ui-components';
import { Message } from '@lumino/messaging';
import { ISignal, Signal } from '@lumino/signaling';
import { Panel, Widget } from '@lumino/widgets';
import * as React from 'react';

import { TRANSLATION_DOMAIN } from '../tokens';
import { INotebooksState, NotebooksModel } from './model';
import { INotebooksActions, NotebooksView } from './view';

/** Widget id of the panel (also the layout-restorer key). */
export const NOTEBOOKS_PANEL_ID = 'jupyter-apolo:notebooks';

/** A notebook page with two sync arrows; `jp-icon3` follows the theme. */
export const notebooksSyncIcon = new LabIcon({
  name: 'jupyter-apolo:notebooks-sync',
  svgstr: `<svg xmlns="http://www.w3.org/2000/svg" width="16" viewBox="0 0 24 24">
  <g class="jp-icon3" fill="#616161">
    <path d="M5 2h10l4 4v7.2a6.5 6.5 0 0 0-2-.2V7h-3V4H7v16h5.3c.3.7.7 1.4 1.2 2H5V2Z"/>
    <path d="M9 9h6v1.6H9zM9 12.3h4.5v1.6H9z"/>
    <path d="M18 14.5a4 4 0 0 1 3.7 2.5h-1.5a2.6 2.6 0 0 0-4.3-.6l1.1 1.1h-3.3v-3.3l1.2 1.2A4 4 0 0 1 18 14.5Zm-3.7 5h1.5a2.6 2.6 0 0 0 4.3.6l-1.1-1.1h3.3v3.3l-1.2-1.2a4 4 0 0 1-6.8-1.6Z"/>
  </g>
</svg>`
});

class NotebooksBody extends ReactWidget {
  constructor(
    private readonly _model: NotebooksModel,
    private readonly _actions: INotebooksActions,
    private readonly _translator: ITranslator,
    private readonly _clearOutputs: () => boolean
  ) {
    super();
    this.addClass('jp-ApoloNotebooks');
    _model.stateChanged.connect(this.update, this);
  }

  protected render(): JSX.Element {
    const state: INotebooksState = this._model.state;
    return (
      <NotebooksView
        state={state}
        actions={this._actions}
        clearOutputs={this._clearOutputs()}
        trans={this._translator.load(TRANSLATION_DOMAIN)}
      />
    );
  }
}

/** The side panel. `body.update()` re-renders after a settings change. */
export class NotebooksPanel extends SidePanel {
  constructor(
    model: NotebooksModel,
    actions: INotebooksActions,
    translator: ITranslator,
    clearOutputs: () => boolean
  ) {
    super({ content: new Panel(), translator });
    const trans = translator.load(TRANSLATION_DOMAIN);
    this.id = NOTEBOOKS_PANEL_ID;
    this.addClass('jp-ApoloNotebooks-panel');
    this.title.icon = notebooksSyncIcon;
    this.title.caption = trans.__(
      'Apolo Notebooks: pull, review, commit, push'
    );
    const heading = new Widget({ node: document.createElement('h2') });
    heading.addClass('jp-Apolo-heading');
    heading.node.textContent = trans.__('Apolo Notebooks');
    this.header.addWidget(heading);
    const buttons = new Toolbar();
    buttons.addClass('jp-Apolo-buttons');
    this.header.addWidget(buttons);
    buttons.addItem(
      'refresh',
      new ToolbarButton({
        icon: refreshIcon,
        tooltip: trans.__('Compare storage and this folder again'),
        onClick: () => actions.refresh()
      })
    );
    this.body = new NotebooksBody(model, actions, translator, clearOutputs);
    this.addWidget(this.body);
  }

  readonly body: ReactWidget;

  /** Emitted each time the panel becomes visible. */
  get shown(): ISignal<this, void> {
    return this._shown;
  }

  protected onAfterShow(msg: Message): void {
    super.onAfterShow(msg);
    this._shown.emit();
  }

  private _shown = new Signal<this, void>(this);
}
