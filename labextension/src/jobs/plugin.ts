/**
 * The `jupyter-apolo:jobs` plugin: the Jobs left panel, the Share dialog, their commands
 * (`apolo:open-jobs`, `apolo:share`, `apolo:revoke`, `apolo:kill-job`, `apolo:open-job-logs`,
 * `apolo:open-job-ui`, `apolo:share-this-job`), settings (schema/jobs.json) and notifications.
 */
import {
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import {
  ICommandPalette,
  MainAreaWidget,
  Notification,
  WidgetTracker
} from '@jupyterlab/apputils';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { IStatusBar } from '@jupyterlab/statusbar';
import { ITranslator, nullTranslator } from '@jupyterlab/translation';
import { CommandToolbarButton, listIcon } from '@jupyterlab/ui-components';
import { Signal } from '@lumino/signaling';

import { CommandIDs, IApoloConnection, TRANSLATION_DOMAIN } from '../tokens';
// The panel's tab and the status-bar item show at startup: needed at activation.
// eslint-disable-next-line jupyter/prefer-lazy-imports
import { JOBS_PANEL_ID, JobsPanel } from './JobsPanel';
import type { IJobsActions } from './JobsView';
import type { LogView } from './LogViewer';
// eslint-disable-next-line jupyter/prefer-lazy-imports
import { JobsModel } from './model';
import { ShareIndicator } from './ShareIndicator';
import type {
  IJobFilter,
  IResourceShares,
  ISharedPermission,
  StatusFilter
} from './types';

/** The settings of schema/jobs.json, with their defaults. */
interface IJobsSettings {
  refreshInterval: number;
  defaultFilter: { status: StatusFilter; owner: string };
  showFinished: boolean;
}

const DEFAULTS: IJobsSettings = {
  refreshInterval: 10,
  defaultFilter: { status: 'active', owner: '' },
  showFinished: true
};

/** A string argument of a command, or '' (commands are scripted: anything may come in). */
function text(args: Record<string, unknown>, key: string): string {
  const value = args[key];
  return typeof value === 'string' ? value.trim() : '';
}

const stringArg = (description: string) => ({ type: 'string', description });
/** The arguments of the commands that act on one job (kill, logs, web UI). */
const JOB_ID_ARGS = {
  args: {
    type: 'object' as const,
    required: ['id'],
    properties: { id: stringArg('job id, name or URI') }
  }
};

export const jobsPlugin: JupyterFrontEndPlugin<void> = {
  id: 'jupyter-apolo:jobs',
  description:
    'The Apolo Jobs panel (my jobs and the ones shared with me), job logs and the Share dialog.',
  autoStart: true,
  requires: [IApoloConnection],
  optional: [
    ITranslator,
    ISettingRegistry,
    ICommandPalette,
    ILayoutRestorer,
    IStatusBar
  ],
  activate: (
    app: JupyterFrontEnd,
    connection: IApoloConnection,
    translator: ITranslator | null,
    registry: ISettingRegistry | null,
    palette: ICommandPalette | null,
    restorer: ILayoutRestorer | null,
    statusBar: IStatusBar | null
  ) => {
    const trans = (translator ?? nullTranslator).load(TRANSLATION_DOMAIN);
    const settings = connection.serverSettings;
    const { commands } = app;

    const filter: IJobFilter = {
      status: DEFAULTS.defaultFilter.status,
      owner: DEFAULTS.defaultFilter.owner,
      text: ''
    };
    const model = new JobsModel({ serverSettings: settings, filter });
    // Helpers loaded when first used (not before the application starts).
    const lazy = {
      actions: () => import('./actions'),
      request: () => import('../request'),
      share: () => import('./ShareDialog')
    };
    const sharedList = async (query: Record<string, number>) => {
      const { requestAPI } = await lazy.request();
      const answer = await requestAPI<{ permissions: ISharedPermission[] }>(
        'shares',
        { query, cache: 'no-store' },
        settings
      );
      return answer.permissions;
    };
    const openShare = async (uri: string, user = '', action = '') => {
      const { openShareDialog } = await lazy.share();
      await openShareDialog({ uri, user, action }, settings, trans);
    };
    model.jobFinished.connect((_, job) => {
      const label = job.name ?? job.id;
      const message = trans.__(
        'Job %1 finished: %2%3',
        label,
        job.status,
        job.exit_code !== null && job.exit_code !== undefined
          ? trans.__(' (exit code %1)', job.exit_code)
          : ''
      );
      if (job.status === 'succeeded') {
        Notification.success(message, { autoClose: 8000 });
      } else {
        Notification.warning(message, { autoClose: false });
      }
    });

    const logs = new WidgetTracker<MainAreaWidget<LogView>>({
      namespace: 'jupyter-apolo-logs'
    });

    const actions: IJobsActions = {
      details: async id => {
        const { fetchJob } = await lazy.actions();
        const job = await fetchJob(id, settings);
        if (job.status === 'pending' || job.status === 'running') {
          model.watch(job.id);
        }
        return job;
      },
      openLogs: id => void commands.execute(CommandIDs.openJobLogs, { id }),
      openUI: id => void commands.execute(CommandIDs.openJobUI, { id }),
      share: uri => void commands.execute(CommandIDs.share, { uri }),
      kill: id =>
        commands.execute(CommandIDs.killJob, { id }) as Promise<boolean>,
      revoke: (uri, user) =>
        commands.execute(CommandIDs.revoke, { uri, user }) as Promise<boolean>,
      copy: value =>
        void lazy.actions().then(({ copyText }) => copyText(value, trans)),
      sharedWithMe: () => sharedList({ shared_with_me: 1 }),
      sharedByMe: () => sharedList({ shared_by_me: 1 })
    };

    const panel = new JobsPanel({
      model,
      actions,
      connection,
      trans,
      refreshInterval: DEFAULTS.refreshInterval,
      showFinished: DEFAULTS.showFinished
    });
    panel.title.icon = listIcon;
    panel.title.caption = trans.__('Apolo Jobs');

    // Settings apply when loaded (activation does not wait for them) and on every change.
    const apply = (setting: ISettingRegistry.ISettings, first: boolean) => {
      const values = {
        ...DEFAULTS,
        ...(setting.composite as Partial<IJobsSettings>)
      };
      panel.configure(values.refreshInterval, values.showFinished);
      const wanted = { ...DEFAULTS.defaultFilter, ...values.defaultFilter };
      if (
        first &&
        (wanted.status !== filter.status || wanted.owner !== filter.owner)
      ) {
        model.setFilter({ ...model.filter, ...wanted }, panel.isVisible);
      }
    };
    registry?.load(jobsPlugin.id).then(
      setting => {
        apply(setting, true);
        setting.changed.connect(() => apply(setting, false));
      },
      reason => console.warn('jupyter-apolo: Jobs settings not loaded', reason)
    );

    // From a job row's context menu the job is the row under the pointer.
    const rowUnderMenu = () =>
      app.contextMenuHitTest(node => !!node.dataset?.jobId) ?? null;

    commands.addCommand(CommandIDs.openJobs, {
      label: trans.__('Open Apolo Jobs'),
      caption: trans.__('My jobs and the jobs shared with me'),
      icon: args => (args.toolbar ? listIcon : undefined),
      describedBy: { args: { type: 'object', properties: {} } },
      execute: () => {
        if (!panel.isAttached) {
          app.shell.add(panel, 'left', { rank: 851 });
        }
        // Showing the panel lists the jobs; when it is already shown, list them again.
        const shown = panel.isVisible;
        app.shell.activateById(panel.id);
        return shown ? panel.refresh() : undefined;
      }
    });

    commands.addCommand(CommandIDs.share, {
      label: trans.__('Share…'),
      caption: trans.__('Share a job or storage path with a teammate'),
      describedBy: {
        args: {
          type: 'object',
          properties: {
            uri: stringArg('job:ID_OR_NAME, storage:PATH, … to share'),
            user: stringArg('the user or role to share with'),
            action: { type: 'string', enum: ['read', 'write', 'manage'] }
          }
        }
      },
      execute: args =>
        openShare(
          text(args, 'uri') || rowUnderMenu()?.dataset.jobUri || '',
          text(args, 'user'),
          text(args, 'action')
        )
    });

    commands.addCommand(CommandIDs.revoke, {
      label: trans.__('Revoke Access…'),
      describedBy: {
        args: {
          type: 'object',
          required: ['uri', 'user'],
          properties: {
            uri: stringArg('the shared resource'),
            user: stringArg('whose access to revoke')
          }
        }
      },
      execute: async args => {
        const uri = text(args, 'uri');
        const user = text(args, 'user');
        if (!uri || !user) {
          Notification.error(trans.__('apolo:revoke needs {uri, user}.'));
          return false;
        }
        const { revokeShare } = await lazy.actions();
        return revokeShare(uri, user, settings, trans);
      }
    });

    const jobArg = (args: Record<string, unknown>) =>
      text(args, 'id') || rowUnderMenu()?.dataset.jobId || '';

    const needId = (name: string) => {
      Notification.error(
        trans.__('%1 needs {id}: a job id, name or URI.', name)
      );
    };

    commands.addCommand(CommandIDs.killJob, {
      label: trans.__('Kill Job…'),
      describedBy: JOB_ID_ARGS,
      execute: async args => {
        const id = jobArg(args);
        if (!id) {
          needId(CommandIDs.killJob);
          return false;
        }
        const job = model.find(id);
        const { killJob } = await lazy.actions();
        const killed = await killJob(id, settings, trans, job?.name ?? id);
        if (killed) {
          void panel.refresh();
        }
        return killed;
      }
    });

    commands.addCommand(CommandIDs.openJobLogs, {
      label: trans.__('Open Job Logs'),
      describedBy: JOB_ID_ARGS,
      execute: async args => {
        const id = jobArg(args);
        if (!id) {
          return needId(CommandIDs.openJobLogs);
        }
        const open = logs.find(w => w.content.job === id);
        if (open) {
          app.shell.activateById(open.id);
          return open;
        }
        const job = model.find(id);
        if (job && (job.status === 'pending' || job.status === 'running')) {
          model.watch(job.id);
        }
        const { createLogViewer } = await import('./LogViewer');
        const viewer = createLogViewer(id, job?.name ?? id, settings, trans);
        void logs.add(viewer);
        app.shell.add(viewer, 'main');
        app.shell.activateById(viewer.id);
        return viewer;
      }
    });

    commands.addCommand(CommandIDs.openJobUI, {
      label: trans.__('Open Job Web UI'),
      describedBy: JOB_ID_ARGS,
      execute: async args => {
        const id = jobArg(args);
        if (!id) {
          return needId(CommandIDs.openJobUI);
        }
        // The tab opens in the click's own task (browsers block later pop-ups), then loads.
        const tab = window.open('', '_blank');
        const { openJobUI } = await lazy.actions();
        return openJobUI(id, settings, trans, tab);
      }
    });

    const thisJob = () => connection.context?.job ?? null;
    commands.addCommand(CommandIDs.shareThisJob, {
      label: trans.__('Share This Notebook Job…'),
      caption: trans.__('Share the platform job this JupyterLab runs in'),
      isEnabled: () => thisJob() !== null,
      describedBy: { args: { type: 'object', properties: {} } },
      execute: async () => {
        const job = thisJob();
        if (!job) {
          Notification.warning(
            trans.__('JupyterLab does not run inside a platform job here.')
          );
          return;
        }
        await openShare(`job:${job.id}`);
        indicator?.refresh();
      }
    });
    connection.stateChanged.connect(() =>
      commands.notifyCommandChanged(CommandIDs.shareThisJob)
    );

    // Right-click on a job row: the same commands, for that job.
    [
      CommandIDs.openJobLogs,
      CommandIDs.openJobUI,
      CommandIDs.share,
      CommandIDs.killJob
    ].forEach((command, rank) =>
      app.contextMenu.addItem({ command, selector: '.jp-Apolo-jobRow', rank })
    );

    for (const command of [
      CommandIDs.openJobs,
      CommandIDs.share,
      CommandIDs.shareThisJob
    ]) {
      palette?.addItem({ command, category: trans.__('Apolo Jobs') });
    }

    // The panel joins the left area at once (its tab is how most people reach it).
    app.shell.add(panel, 'left', { rank: 851 });
    restorer?.add(panel, JOBS_PANEL_ID);

    // "How many people can open this notebook job" in the status bar, inside a platform job.
    let indicator: ShareIndicator | null = null;
    const contextChanged = new Signal<IApoloConnection, void>(connection);
    connection.stateChanged.connect(() => contextChanged.emit());
    if (statusBar) {
      indicator = new ShareIndicator(
        async () => {
          const job = thisJob();
          if (!job) {
            return null;
          }
          const { requestAPI } = await lazy.request();
          const shares = await requestAPI<IResourceShares>(
            'shares',
            { query: { uri: `job:${job.id}` }, cache: 'no-store' },
            settings
          );
          return shares.grants.length;
        },
        trans,
        () => void commands.execute(CommandIDs.shareThisJob)
      );
      statusBar.registerStatusItem('jupyter-apolo:share-indicator', {
        item: indicator,
        align: 'left',
        rank: 900,
        isActive: () => thisJob() !== null,
        activeStateChanged: contextChanged
      });
      connection.stateChanged.connect(() => indicator?.refresh());
      indicator.refresh();
    }

    // A button in the Apolo sidebar's header opens this panel.
    void app.restored.then(async () => {
      const { SIDEBAR_ID, ApoloSidebar } = await import('../sidebar');
      for (const widget of app.shell.widgets('left')) {
        if (widget.id === SIDEBAR_ID && widget instanceof ApoloSidebar) {
          widget.buttons.insertItem(
            0,
            'jobs',
            new CommandToolbarButton({
              commands,
              id: CommandIDs.openJobs,
              args: { toolbar: true },
              label: ''
            })
          );
        }
      }
    });
  }
};
