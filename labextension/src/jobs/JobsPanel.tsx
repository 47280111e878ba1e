/**
 * The Jobs left panel: `JobsView` in a Lumino widget that refreshes the list with JupyterLab's
 * `Poll` while it is visible (standby when hidden or the browser tab is in the background).
 */
import { TranslationBundle } from '@jupyterlab/translation';
import { ReactWidget } from '@jupyterlab/ui-components';
import { IPoll, Poll } from '@lumino/polling';
import * as React from 'react';

import { useConnectionState } from '../components';
import { IApoloConnection } from '../tokens';
import { IJobsActions, JobsView } from './JobsView';
import { JobsModel } from './model';

/** Widget id of the panel (also the layout-restorer key). */
export const JOBS_PANEL_ID = 'jupyter-apolo:jobs';

export namespace JobsPanel {
  export interface IOptions {
    model: JobsModel;
    actions: IJobsActions;
    connection: IApoloConnection;
    trans: TranslationBundle;
    /** Seconds between refreshes while visible. */
    refreshInterval: number;
    showFinished: boolean;
  }
}

/** Follows the connection so "This notebook job" appears once the context is known. */
function LiveJobsView(props: {
  options: JobsPanel.IOptions;
  showFinished: boolean;
  onRefresh: () => void;
}): JSX.Element {
  const state = useConnectionState(props.options.connection);
  const { model, actions, trans } = props.options;
  return (
    <JobsView
      model={model}
      actions={actions}
      trans={trans}
      context={state.kind === 'connected' ? state.context : null}
      showFinished={props.showFinished}
      onRefresh={props.onRefresh}
    />
  );
}

export class JobsPanel extends ReactWidget {
  constructor(private readonly _options: JobsPanel.IOptions) {
    super();
    this.id = JOBS_PANEL_ID;
    this.addClass('jp-Apolo-jobsPanel');
    this._showFinished = _options.showFinished;
    this._poll = new Poll({
      factory: () => this._options.model.refresh(),
      frequency: this._frequency(_options.refreshInterval),
      // No requests while nobody looks: hidden panel or background browser tab.
      standby: () => !this.isVisible || document.hidden,
      name: 'jupyter-apolo:jobs',
      auto: false
    });
  }

  get model(): JobsModel {
    return this._options.model;
  }

  /** Apply new settings (seconds between refreshes, finished jobs offered). */
  configure(refreshInterval: number, showFinished: boolean): void {
    this._poll.frequency = this._frequency(refreshInterval);
    this._showFinished = showFinished;
    this.update();
  }

  /** Reload now (the refresh button and `apolo:open-jobs`). */
  refresh(): Promise<void> {
    return this._poll.refresh();
  }

  dispose(): void {
    this._poll.dispose();
    this._options.model.dispose();
    super.dispose();
  }

  protected onAfterShow(): void {
    // One listing on show: the first start ticks at once, later shows refresh at once.
    if (!this._started) {
      this._started = true;
      void this._poll.start();
    } else {
      void this._poll.refresh();
    }
  }

  protected render(): JSX.Element {
    return (
      <LiveJobsView
        options={this._options}
        showFinished={this._showFinished}
        onRefresh={() => void this.refresh()}
      />
    );
  }

  private _frequency(seconds: number): IPoll.Frequency {
    const interval = Math.max(2, seconds) * 1000;
    return { interval, backoff: true, max: interval * 6 };
  }

  private _poll: Poll;
  private _started = false;
  private _showFinished: boolean;
}
