/**
 * A main-area log viewer: `GET apolo/jobs/<job>/log` read as it streams, so a running job's new
 * lines appear as it prints them; the stream (and the server's platform stream) is closed when the
 * tab closes. Download saves what was received.
 */
import { MainAreaWidget } from '@jupyterlab/apputils';
import { ServerConnection } from '@jupyterlab/services';
import { TranslationBundle } from '@jupyterlab/translation';
import { downloadIcon, ToolbarButton } from '@jupyterlab/ui-components';
import { Widget } from '@lumino/widgets';

import { requestRaw } from '../request';
import { jobPath, errorLine } from './actions';

/** Where the log stream is. */
export type LogState = 'connecting' | 'following' | 'ended' | 'error';

/** The text area of the viewer; `state` is mirrored in `data-state` for tests and styling. */
export class LogView extends Widget {
  constructor(
    readonly job: string,
    private readonly _settings: ServerConnection.ISettings,
    private readonly _trans: TranslationBundle
  ) {
    super();
    this.addClass('jp-Apolo-log');
    this._pre = document.createElement('pre');
    this._pre.className = 'jp-Apolo-logText';
    this._status = document.createElement('div');
    this._status.className = 'jp-Apolo-logStatus';
    this.node.append(this._pre, this._status);
    this._setState('connecting');
  }

  /** Everything received so far. */
  get text(): string {
    return this._chunks.join('');
  }

  get state(): LogState {
    return this._state;
  }

  /** Start reading (once). Resolves when the log ended, failed or the view was disposed. */
  async follow(): Promise<void> {
    try {
      const response = await requestRaw(
        `${jobPath(this.job)}/log`,
        { signal: this._abort.signal, cache: 'no-store' },
        this._settings
      );
      this._setState('following');
      if (!response.body) {
        this._append(await response.text());
      } else {
        const reader = response.body.getReader();
        const decoder = new TextDecoder();
        for (;;) {
          const { done, value } = await reader.read();
          if (done) {
            this._append(decoder.decode());
            break;
          }
          this._append(decoder.decode(value, { stream: true }));
        }
      }
      this._setState('ended');
    } catch (reason) {
      if (!this.isDisposed) {
        this._setState('error', errorLine(reason));
      }
    }
  }

  /** Save the text received so far as `<job>.log`. */
  download(): void {
    const url = URL.createObjectURL(
      new Blob([this.text], { type: 'text/plain' })
    );
    const link = document.createElement('a');
    link.href = url;
    link.download = `${this.job.replace(/[^\w.-]+/g, '_')}.log`;
    document.body.appendChild(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 1000);
  }

  dispose(): void {
    this._abort.abort();
    super.dispose();
  }

  private _append(text: string): void {
    if (!text) {
      return;
    }
    const node = this.node;
    // Keep following the bottom unless the reader scrolled up.
    const atBottom =
      node.scrollHeight - node.scrollTop - node.clientHeight < 40;
    this._chunks.push(text);
    this._pre.appendChild(document.createTextNode(text));
    if (atBottom) {
      node.scrollTop = node.scrollHeight;
    }
  }

  private _setState(state: LogState, detail = ''): void {
    this._state = state;
    this.node.dataset.state = state;
    const trans = this._trans;
    this._status.textContent = {
      connecting: trans.__('Connecting…'),
      following: trans.__(
        'Following the job: new lines appear as it prints them.'
      ),
      ended: trans.__('End of log.'),
      error: detail
    }[state];
    this._status.classList.toggle('jp-mod-error', state === 'error');
  }

  private _pre: HTMLPreElement;
  private _status: HTMLDivElement;
  private _chunks: string[] = [];
  private _state: LogState = 'connecting';
  private _abort = new AbortController();
}

/** The viewer in a main-area tab titled with the job, with a Download button. */
export function createLogViewer(
  job: string,
  label: string,
  settings: ServerConnection.ISettings,
  trans: TranslationBundle
): MainAreaWidget<LogView> {
  const content = new LogView(job, settings, trans);
  const widget = new MainAreaWidget({ content });
  widget.id = `jupyter-apolo:log:${job}`;
  widget.addClass('jp-Apolo-logViewer');
  widget.title.label = trans.__('Log: %1', label);
  widget.title.caption = trans.__('Log of job %1', job);
  widget.title.closable = true;
  widget.toolbar.addItem(
    'download',
    new ToolbarButton({
      icon: downloadIcon,
      label: trans.__('Download'),
      tooltip: trans.__('Save the log received so far as a file'),
      onClick: () => content.download()
    })
  );
  void content.follow();
  return widget;
}
