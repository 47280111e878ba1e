import { TranslationBundle } from '@jupyterlab/translation';
import { ReactWidget } from '@jupyterlab/ui-components';
import * as React from 'react';

/**
 * The status-bar item inside a platform job: how many users or roles can open this notebook
 * job; a click opens the Share dialog for it.
 */
export class ShareIndicator extends ReactWidget {
  constructor(
    private readonly _count: () => Promise<number | null>,
    private readonly _trans: TranslationBundle,
    private readonly _onClick: () => void
  ) {
    super();
    this.addClass('jp-Apolo-shareIndicator');
  }

  /** Ask the server again how many grants this job has. */
  refresh(): void {
    this._count().then(
      count => {
        this._value = count;
        this.update();
      },
      () => {
        this._value = null;
        this.update();
      }
    );
  }

  protected render(): JSX.Element | null {
    if (this._value === null) {
      return null;
    }
    const trans = this._trans;
    return (
      <button
        className="jp-Apolo-shareCount"
        title={trans.__(
          'People and roles you shared this notebook job with; click to share'
        )}
        onClick={this._onClick}
      >
        {trans._n('Shared with %1', 'Shared with %1', this._value)}
      </button>
    );
  }

  private _value: number | null = null;
}
