/**
 * Diffs in the main area: notebooks through nbdime's own diff widget (the same rendering as
 * nbdime's web tool and its JupyterLab extension), other files as a unified text diff.
 */
import { IEditorServices } from '@jupyterlab/codeeditor';
import { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import { ServerConnection } from '@jupyterlab/services';
import { Panel, Widget } from '@lumino/widgets';

import { requestAPI } from '../request';
import { Notebooks } from '../tokens';

/** Fetch the diff of root-relative `path` and build its widget (throws the request's errors). */
export async function diffWidget(
  settings: ServerConnection.ISettings,
  path: string,
  direction: Notebooks.Direction | undefined,
  rendermime: IRenderMimeRegistry | null,
  editorServices: IEditorServices | null
): Promise<Widget> {
  const diff = await requestAPI<Notebooks.Diff>(
    'notebooks/diff',
    { query: { path, direction } },
    settings
  );
  if (diff.kind === 'notebook' && rendermime) {
    // nbdime is loaded only when a notebook diff is first opened.
    const [{ NotebookDiffModel }, { NotebookDiffWidget }] = await Promise.all([
      import('nbdime/lib/diff/model'),
      import('nbdime/lib/diff/widget')
    ]);
    const model = new NotebookDiffModel(diff.base as never, diff.diff as never);
    const factory = editorServices?.factoryService;
    const widget = new NotebookDiffWidget({
      model,
      rendermime,
      editorFactory: factory?.newInlineEditor.bind(factory)
    });
    widget.addClass('jp-ApoloNotebooks-nbdiff');
    await widget.init();
    return wrapScroll(widget, diffCaption(direction));
  }
  return textDiff(diff.text, diffCaption(direction));
}

/** What the two sides of a diff are, in words. */
export function diffCaption(direction?: Notebooks.Direction): string {
  if (direction === 'pull') {
    return 'Your version → the storage version (what a pull brings)';
  }
  if (direction === 'push') {
    return 'The storage version → your version (what a push sends)';
  }
  return 'Last commit → your version';
}

function wrapScroll(inner: Widget, caption: string): Widget {
  const outer = new Panel();
  outer.addClass('jp-ApoloNotebooks-diff');
  const head = new Widget({ node: document.createElement('p') });
  head.addClass('jp-ApoloNotebooks-diffCaption');
  head.node.textContent = caption;
  outer.addWidget(head);
  outer.addWidget(inner);
  return outer;
}

/** A unified diff with added/removed lines coloured. */
export function textDiff(text: string, caption: string): Widget {
  const widget = new Widget();
  widget.addClass('jp-ApoloNotebooks-diff');
  const head = document.createElement('p');
  head.className = 'jp-ApoloNotebooks-diffCaption';
  head.textContent = caption;
  const pre = document.createElement('pre');
  pre.className = 'jp-ApoloNotebooks-textDiff';
  for (const line of (text || 'No differences.').split('\n')) {
    const span = document.createElement('span');
    span.textContent = line + '\n';
    if (line.startsWith('+') && !line.startsWith('+++')) {
      span.className = 'jp-mod-added';
    } else if (line.startsWith('-') && !line.startsWith('---')) {
      span.className = 'jp-mod-removed';
    } else if (line.startsWith('@@') || line.startsWith('##')) {
      span.className = 'jp-mod-hunk';
    }
    pre.appendChild(span);
  }
  widget.node.append(head, pre);
  return widget;
}
