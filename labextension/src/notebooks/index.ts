/**
 * The Notebooks plugin: the side panel and the commands `apolo:open-notebooks`,
 * `apolo:notebooks-pull {path?}`, `apolo:notebooks-push {path?}`,
 * `apolo:notebooks-commit {message, path?}` and `apolo:notebooks-git-pull {path?}`.
 */
import {
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import {
  Dialog,
  ICommandPalette,
  MainAreaWidget,
  showDialog,
  showErrorMessage
} from '@jupyterlab/apputils';
import { IEditorServices } from '@jupyterlab/codeeditor';
import { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { ITranslator, nullTranslator } from '@jupyterlab/translation';
import * as React from 'react';

import {
  CommandIDs,
  IApoloConnection,
  Notebooks,
  TRANSLATION_DOMAIN
} from '../tokens';
// The model and the panel are needed at activation: the side panel tab shows at once.
// eslint-disable-next-line jupyter/prefer-lazy-imports
import {
  isRejectedPush,
  joinPath,
  NotebooksModel,
  notebooksFolder,
  problemOf
} from './model';
// eslint-disable-next-line jupyter/prefer-lazy-imports
import { NOTEBOOKS_PANEL_ID, NotebooksPanel, notebooksSyncIcon } from './panel';
import { INotebooksActions } from './view';

const PLUGIN_ID = 'jupyter-apolo:notebooks';

/** The schema of the commands taking an optional project folder (`{path?}`, relative to the root). */
const PATH_ARGS = {
  args: {
    type: 'object' as const,
    properties: { path: { type: 'string' as const } }
  }
};

/** `{path?}` as a string, or undefined. */
function pathArg(args: Record<string, unknown>): string | undefined {
  return typeof args.path === 'string' ? args.path : undefined;
}

export const notebooksPlugin: JupyterFrontEndPlugin<void> = {
  id: PLUGIN_ID,
  description:
    'The Apolo Notebooks panel: pull notebooks from storage, review them (nbdime diffs), commit and push.',
  autoStart: true,
  requires: [IApoloConnection],
  optional: [
    ITranslator,
    ICommandPalette,
    ILayoutRestorer,
    IRenderMimeRegistry,
    IEditorServices,
    ISettingRegistry
  ],
  activate: (
    app: JupyterFrontEnd,
    connection: IApoloConnection,
    translator: ITranslator | null,
    palette: ICommandPalette | null,
    restorer: ILayoutRestorer | null,
    rendermime: IRenderMimeRegistry | null,
    editorServices: IEditorServices | null,
    settingRegistry: ISettingRegistry | null
  ) => {
    translator = translator ?? nullTranslator;
    const trans = translator.load(TRANSLATION_DOMAIN);
    const model = new NotebooksModel(connection.serverSettings);
    let settings: ISettingRegistry.ISettings | null = null;

    const actions: INotebooksActions = {
      refresh: () => void model.refresh(),
      setPath: path => void model.setPath(path),
      apply: direction => void model.apply(direction),
      cancel: () => model.cancel(),
      toggle: path => model.toggle(path),
      openDiff: (path, direction) => void openDiff(path, direction),
      openFile: path => {
        const state = model.state;
        void app.commands.execute('docmanager:open', {
          path: joinPath(notebooksFolder(state.pull, state.path), path)
        });
      },
      commit: message =>
        gitStep(() => model.commit(message), trans.__('Commit failed')),
      pushGit: () => gitStep(() => model.pushGit(), trans.__('Push failed')),
      pullGit: () => gitStep(() => model.pullGit(), trans.__('Pull failed')),
      setClearOutputs: on => {
        model.clearOutputs = on;
        void settings?.set('clearOutputs', on);
        panel.body.update();
      }
    };

    /**
     * Run a git step; only when it failed, explain it (a step that succeeded never shows the
     * failure of another one started meanwhile, e.g. Push clicked while Commit re-plans).
     */
    async function gitStep(
      run: () => Promise<boolean>,
      title: string
    ): Promise<boolean> {
      const ok = await run();
      if (!ok) {
        await explainGitFailure(title);
      }
      return ok;
    }

    /**
     * git's own output (hook messages, a rejected push, a merge conflict) in one dialog, in
     * monospace, with what to do. A push rejected because the remote has new commits offers
     * Pull (fetch and merge, never forced); after it the user pushes again.
     */
    async function explainGitFailure(title: string): Promise<void> {
      const problem = model.state.opProblem;
      if (!problem?.output) {
        return;
      }
      const offerPull = isRejectedPush(problem);
      const result = await showDialog({
        title,
        body: React.createElement(
          'div',
          { className: 'jp-ApoloNotebooks-gitDialog' },
          React.createElement('p', null, problem.message.split('\n')[0]),
          problem.fix && React.createElement('p', null, problem.fix),
          offerPull &&
            React.createElement(
              'p',
              null,
              trans.__(
                'Pull fetches those commits and merges them into yours (notebooks cell by cell; never forced). Then push again.'
              )
            ),
          React.createElement(
            'pre',
            { className: 'jp-ApoloNotebooks-output' },
            problem.output.trim()
          )
        ),
        buttons: offerPull
          ? [
              Dialog.cancelButton({ label: trans.__('Close') }),
              Dialog.okButton({
                label: trans.__('Pull'),
                caption: trans.__(
                  'Fetch the remote commits and merge them (notebooks cell by cell); never forced'
                )
              })
            ]
          : [Dialog.okButton({ label: trans.__('Close') })]
      });
      if (offerPull && result.button.accept) {
        await actions.pullGit();
      }
    }

    async function openDiff(
      path: string,
      direction?: Notebooks.Direction
    ): Promise<void> {
      const state = model.state;
      const full =
        direction === undefined
          ? path
          : joinPath(notebooksFolder(state.pull, state.path), path);
      try {
        const { diffWidget } = await import('./diff');
        const content = await diffWidget(
          connection.serverSettings,
          full,
          direction,
          rendermime,
          editorServices
        );
        const widget = new MainAreaWidget({ content });
        widget.id = `jupyter-apolo:diff:${direction ?? 'git'}:${full}`;
        widget.title.label = trans.__(
          'Diff: %1',
          path.split('/').pop() ?? path
        );
        widget.title.caption = full;
        widget.title.icon = notebooksSyncIcon;
        widget.title.closable = true;
        app.shell.add(widget, 'main');
        app.shell.activateById(widget.id);
      } catch (reason) {
        const problem = problemOf(reason);
        await showErrorMessage(
          trans.__('Cannot show the changes of %1', path),
          [problem.message, problem.fix].filter(Boolean).join('\n')
        );
      }
    }

    const panel = new NotebooksPanel(
      model,
      actions,
      translator,
      () => model.clearOutputs
    );
    app.shell.add(panel, 'left', { rank: 851 });
    restorer?.add(panel, NOTEBOOKS_PANEL_ID);

    // Plan when first shown, and again whenever the connection comes back.
    let planned = false;
    const planIfShown = () => {
      if (
        !planned &&
        panel.isVisible &&
        connection.state.kind === 'connected'
      ) {
        planned = true;
        void model.refresh();
      }
    };
    panel.shown.connect(planIfShown);
    connection.stateChanged.connect((_, state) => {
      if (state.kind !== 'connected') {
        return;
      }
      if (planned) {
        void model.refresh();
      } else {
        planIfShown();
      }
    });
    panel.disposed.connect(() => model.dispose());

    if (settingRegistry) {
      void settingRegistry.load(PLUGIN_ID).then(
        loaded => {
          settings = loaded;
          const read = () => {
            model.clearOutputs = loaded.get('clearOutputs').composite === true;
            panel.body.update();
          };
          read();
          loaded.changed.connect(read);
        },
        () => undefined // no schema (e.g. tests): the default stays off
      );
    }

    const withPath = async (args: Record<string, unknown>) => {
      const path = pathArg(args);
      if (path !== undefined && path !== model.state.path) {
        await model.setPath(path);
      } else if (!model.state.pull) {
        await model.refresh();
      }
    };

    app.commands.addCommand(CommandIDs.openNotebooks, {
      label: trans.__('Open Apolo Notebooks'),
      caption: trans.__(
        'Pull, review, commit and push the flow project notebooks'
      ),
      icon: args => (args.toolbar ? notebooksSyncIcon : undefined),
      describedBy: { args: { type: 'object', properties: {} } },
      execute: () => {
        app.shell.activateById(panel.id);
      }
    });
    for (const [id, direction, label, caption] of [
      [
        CommandIDs.notebooksPull,
        'pull',
        trans.__('Pull Notebooks from Storage'),
        trans.__(
          'Download what changed on storage (deletions only when ticked in the panel)'
        )
      ],
      [
        CommandIDs.notebooksPush,
        'push',
        trans.__('Push Notebooks to Storage'),
        trans.__(
          'Upload what changed here (deletions only when ticked in the panel)'
        )
      ]
    ] as const) {
      app.commands.addCommand(id, {
        label,
        caption,
        describedBy: PATH_ARGS,
        execute: async args => {
          await withPath(args);
          await model.apply(direction);
          return model.state.outcome;
        }
      });
    }
    app.commands.addCommand(CommandIDs.notebooksCommit, {
      label: trans.__('Commit Notebooks'),
      caption: trans.__('git commit the changes in the notebooks folder'),
      describedBy: {
        args: {
          type: 'object',
          properties: { message: { type: 'string' }, path: { type: 'string' } },
          required: ['message']
        }
      },
      execute: async args => {
        await withPath(args);
        const message = typeof args.message === 'string' ? args.message : '';
        const ok = await gitStep(
          () => model.commit(message),
          trans.__('Commit failed')
        );
        return ok ? model.state.outcome : null;
      }
    });
    app.commands.addCommand(CommandIDs.notebooksGitPull, {
      label: trans.__('Pull Notebooks Commits (git)'),
      caption: trans.__(
        'git pull from the upstream: fetch, then fast-forward or merge (notebooks cell by cell); never rebases or forces'
      ),
      describedBy: PATH_ARGS,
      execute: async args => {
        await withPath(args);
        const ok = await gitStep(
          () => model.pullGit(),
          trans.__('Pull failed')
        );
        return ok ? model.state.outcome : null;
      }
    });
    for (const command of [
      CommandIDs.openNotebooks,
      CommandIDs.notebooksPull,
      CommandIDs.notebooksPush,
      CommandIDs.notebooksGitPull
    ]) {
      palette?.addItem({ command, category: trans.__('Apolo') });
    }
  }
};
