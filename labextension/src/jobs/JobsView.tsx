/**
 * The Jobs panel's React view: the job list (virtualised, running first) with its filters, the
 * job details, and the "Shared with me" / "Shared by me" views. Everything it does goes through
 * `IJobsActions` so the plugin's commands and this view share one implementation.
 */
import { TranslationBundle } from '@jupyterlab/translation';
import {
  Button,
  closeIcon,
  copyIcon,
  HTMLSelect,
  refreshIcon,
  ToolbarButtonComponent
} from '@jupyterlab/ui-components';
import * as React from 'react';

import { IApoloContext } from '../tokens';
import {
  describeError,
  errorText,
  formatAge,
  ILoadError,
  JobsModel
} from './model';
import {
  ACTIVE,
  IJobDetails,
  IJobSummary,
  ISharedPermission,
  StatusFilter
} from './types';
import { VirtualList } from './VirtualList';

/** Row height of the job list, in CSS pixels (two text lines). */
export const ROW_HEIGHT = 44;

/** What the view asks the plugin to do (commands behind each). */
export interface IJobsActions {
  details(id: string): Promise<IJobDetails>;
  openLogs(id: string): void;
  openUI(id: string): void;
  share(uri: string): void;
  /** Resolves true when the job was killed. */
  kill(id: string): Promise<boolean>;
  revoke(uri: string, user: string): Promise<boolean>;
  copy(text: string): void;
  sharedWithMe(): Promise<ISharedPermission[]>;
  sharedByMe(): Promise<ISharedPermission[]>;
}

/** Props of `JobsView`. */
export interface IJobsViewProps {
  model: JobsModel;
  actions: IJobsActions;
  trans: TranslationBundle;
  /** Where Lab runs (its `job` is pinned as "This notebook job"), or null. */
  context: IApoloContext | null;
  /** Offer the "All, with finished" status filter. */
  showFinished: boolean;
  /** Called by the refresh button. */
  onRefresh: () => void;
}

type View = 'jobs' | 'with' | 'by';

/** Follow `model.changed`. */
function useModel(model: JobsModel): number {
  const [version, setVersion] = React.useState(0);
  React.useEffect(() => {
    const bump = () => setVersion(v => v + 1);
    model.changed.connect(bump);
    return () => {
      model.changed.disconnect(bump);
    };
  }, [model]);
  return version;
}

/** The status words, translated. */
function statusLabel(status: string, trans: TranslationBundle): string {
  switch (status) {
    case 'pending':
      return trans.__('pending');
    case 'running':
      return trans.__('running');
    case 'suspended':
      return trans.__('suspended');
    case 'succeeded':
      return trans.__('succeeded');
    case 'failed':
      return trans.__('failed');
    case 'cancelled':
      return trans.__('cancelled');
    default:
      return status;
  }
}

/** The status as a coloured dot and word (colour class per status). */
export function StatusBadge(props: {
  status: string;
  trans: TranslationBundle;
}): JSX.Element {
  return (
    <span
      className={`jp-Apolo-status jp-Apolo-status-${props.status}`}
      data-status={props.status}
    >
      <span className="jp-Apolo-statusDot" aria-hidden="true" />
      {statusLabel(props.status, props.trans)}
    </span>
  );
}

/** One row of the list: name (or id), then status, reason, owner, preset, age. */
export function JobRow(props: {
  job: IJobSummary;
  trans: TranslationBundle;
  now: number;
  style?: React.CSSProperties;
  onOpen: (job: IJobSummary) => void;
}): JSX.Element {
  const { job, trans } = props;
  const title = job.name ?? job.id;
  return (
    <div
      className="jp-Apolo-jobRow"
      role="listitem"
      tabIndex={0}
      style={props.style}
      data-job-id={job.id}
      data-job-uri={job.uri}
      data-status={job.status}
      title={job.name ? `${job.name} (${job.id})` : job.id}
      onClick={() => props.onOpen(job)}
      onKeyDown={event => {
        if (event.key === 'Enter') {
          props.onOpen(job);
        }
      }}
    >
      <div className="jp-Apolo-jobLine">
        <span className="jp-Apolo-jobName">{title}</span>
        <span className="jp-Apolo-jobAge" title={job.created_at ?? ''}>
          {formatAge(job.created_at, props.now)}
        </span>
      </div>
      <div className="jp-Apolo-jobLine jp-Apolo-jobMeta">
        <StatusBadge status={job.status} trans={trans} />
        {job.reason && <span className="jp-Apolo-jobReason">{job.reason}</span>}
        <span className="jp-Apolo-jobOwner">{job.owner}</span>
        {job.preset && <span className="jp-Apolo-jobPreset">{job.preset}</span>}
      </div>
    </div>
  );
}

/** The list view's problem line (keeps the last list shown under it). */
function ErrorBanner(props: { error: ILoadError }): JSX.Element {
  return (
    <p className="jp-Apolo-inlineError jp-Apolo-listError" role="alert">
      {errorText(props.error)}
    </p>
  );
}

/** The Jobs panel content. */
export function JobsView(props: IJobsViewProps): JSX.Element {
  const { model, trans, actions } = props;
  useModel(model);
  const [view, setView] = React.useState<View>('jobs');
  const [selected, setSelected] = React.useState<IJobSummary | null>(null);
  const filter = model.filter;
  const jobs = model.jobs;
  const now = Date.now();
  const pinned = props.context?.job ?? null;

  if (selected) {
    return (
      <JobDetails
        job={model.find(selected.id) ?? selected}
        actions={actions}
        trans={trans}
        onBack={() => setSelected(null)}
        onUpdate={job => model.update(job)}
      />
    );
  }

  const statusOptions: { value: StatusFilter; label: string }[] = [
    { value: 'active', label: trans.__('Live (running, pending)') },
    { value: 'running', label: trans.__('Running') },
    { value: 'pending', label: trans.__('Pending') }
  ];
  if (props.showFinished || filter.status === 'all') {
    statusOptions.push({ value: 'all', label: trans.__('All, with finished') });
  }

  return (
    <div className="jp-Apolo-jobs" data-view={view}>
      <div className="jp-Apolo-jobsHeader">
        <div className="jp-Apolo-tabs" role="tablist">
          {(
            [
              ['jobs', trans.__('Jobs')],
              ['with', trans.__('Shared with me')],
              ['by', trans.__('Shared by me')]
            ] as [View, string][]
          ).map(([key, label]) => (
            <button
              key={key}
              role="tab"
              aria-selected={view === key}
              className={`jp-Apolo-tab${view === key ? ' jp-mod-selected' : ''}`}
              data-view={key}
              onClick={() => setView(key)}
            >
              {label}
            </button>
          ))}
        </div>
      </div>
      {view === 'jobs' ? (
        <>
          <div className="jp-Apolo-filters">
            <HTMLSelect
              className="jp-Apolo-statusFilter"
              aria-label={trans.__('Status')}
              value={filter.status}
              onChange={event =>
                (model.filter = {
                  ...filter,
                  status: event.currentTarget.value as StatusFilter
                })
              }
              options={statusOptions}
            />
            <ToolbarButtonComponent
              className="jp-Apolo-jobsRefresh"
              icon={refreshIcon}
              tooltip={trans.__('Refresh the job list')}
              onClick={props.onRefresh}
            />
            <input
              type="search"
              className="jp-mod-styled jp-Apolo-ownerFilter"
              aria-label={trans.__('Owner')}
              placeholder={trans.__('Owner')}
              defaultValue={filter.owner}
              onKeyDown={event => {
                if (event.key === 'Enter') {
                  model.filter = {
                    ...filter,
                    owner: event.currentTarget.value
                  };
                }
              }}
              onBlur={event => {
                if (event.currentTarget.value !== filter.owner) {
                  model.filter = {
                    ...filter,
                    owner: event.currentTarget.value
                  };
                }
              }}
            />
            <input
              type="search"
              className="jp-mod-styled jp-Apolo-textFilter"
              aria-label={trans.__('Name or tag')}
              placeholder={trans.__('Name or tag')}
              defaultValue={filter.text}
              onKeyDown={event => {
                if (event.key === 'Enter') {
                  model.filter = { ...filter, text: event.currentTarget.value };
                }
              }}
              onBlur={event => {
                if (event.currentTarget.value !== filter.text) {
                  model.filter = { ...filter, text: event.currentTarget.value };
                }
              }}
            />
          </div>
          {pinned && (
            <div className="jp-Apolo-pinned" data-job-id={pinned.id}>
              <div className="jp-Apolo-pinnedText">
                <span className="jp-Apolo-label">
                  {trans.__('This notebook job')}
                </span>
                <button
                  className="jp-Apolo-link jp-Apolo-jobName"
                  title={pinned.id}
                  onClick={() =>
                    setSelected(
                      model.find(pinned.id) ??
                        ({ id: pinned.id, name: pinned.name } as IJobSummary)
                    )
                  }
                >
                  {pinned.name ?? pinned.id}
                </button>
              </div>
              <Button
                small
                className="jp-Apolo-shareThisJob"
                onClick={() =>
                  actions.share(
                    model.find(pinned.id)?.uri ?? `job:${pinned.id}`
                  )
                }
              >
                {trans.__('Share')}
              </Button>
            </div>
          )}
          {model.error && <ErrorBanner error={model.error} />}
          {!(model.error && jobs.length === 0) && (
            <p className="jp-Apolo-count" aria-live="polite">
              {model.loading && jobs.length === 0
                ? trans.__('Loading jobs…')
                : model.loading
                  ? trans.__('%1 jobs so far…', jobs.length)
                  : trans._n('%1 job', '%1 jobs', jobs.length)}
            </p>
          )}
          {!model.loading && !model.error && jobs.length === 0 ? (
            <div className="jp-Apolo-empty" data-empty="jobs">
              <p>{trans.__('No jobs match.')}</p>
              <p className="jp-Apolo-hint">
                {filter.status === 'all'
                  ? trans.__('Start one with `apolo run` or in the launcher.')
                  : trans.__(
                      'Only live jobs are listed: choose "All, with finished" to see the rest.'
                    )}
              </p>
            </div>
          ) : (
            <VirtualList
              className="jp-Apolo-jobList"
              label={trans.__('Jobs')}
              count={jobs.length}
              rowHeight={ROW_HEIGHT}
              renderRow={(index, style) => (
                <JobRow
                  key={jobs[index].id}
                  job={jobs[index]}
                  trans={trans}
                  now={now}
                  style={style}
                  onOpen={job => setSelected(job)}
                />
              )}
            />
          )}
        </>
      ) : (
        <SharedList
          key={view}
          which={view}
          actions={actions}
          trans={trans}
          nameOf={uri => jobs.find(j => j.uri === uri)?.name ?? null}
        />
      )}
    </div>
  );
}

/** "Shared with me" (`apolo acl ls`) or "Shared by me" (`apolo acl ls --shared`). */
function SharedList(props: {
  which: 'with' | 'by';
  actions: IJobsActions;
  trans: TranslationBundle;
  /** The name of a listed job with this URI, if it has one. */
  nameOf: (uri: string) => string | null;
}): JSX.Element {
  const { which, actions, trans, nameOf } = props;
  const [rows, setRows] = React.useState<ISharedPermission[] | null>(null);
  const [error, setError] = React.useState<ILoadError | null>(null);
  const load = React.useCallback(async () => {
    try {
      setRows(
        await (which === 'with' ? actions.sharedWithMe() : actions.sharedByMe())
      );
      setError(null);
    } catch (reason) {
      setError(describeError(reason));
    }
  }, [which, actions]);
  React.useEffect(() => {
    void load();
  }, [load]);

  if (error) {
    return <ErrorBanner error={error} />;
  }
  if (!rows) {
    return <p className="jp-Apolo-count">{trans.__('Loading…')}</p>;
  }
  if (rows.length === 0) {
    return (
      <div className="jp-Apolo-empty" data-empty={which}>
        <p>
          {which === 'with'
            ? trans.__('Nobody has shared anything with you yet.')
            : trans.__('You have not shared anything yet.')}
        </p>
      </div>
    );
  }
  return (
    <ul className="jp-Apolo-sharedList" data-which={which}>
      {rows.map(row => {
        const isJob = row.uri.startsWith('job:');
        const name = isJob ? nameOf(row.uri) : null;
        return (
          <li
            key={`${row.uri}|${row.user ?? ''}`}
            className="jp-Apolo-sharedRow"
            data-uri={row.uri}
          >
            <div className="jp-Apolo-jobLine">
              <span className="jp-Apolo-jobName" title={row.uri}>
                {name ?? row.short}
              </span>
              <span className="jp-Apolo-grantAction">{row.action}</span>
            </div>
            {name && (
              <div className="jp-Apolo-jobLine jp-Apolo-jobMeta">
                <span className="jp-Apolo-mono jp-Apolo-sharedUri">
                  {row.short}
                </span>
              </div>
            )}
            <div className="jp-Apolo-jobLine jp-Apolo-sharedActions">
              {row.user && (
                <span className="jp-Apolo-jobOwner">
                  {trans.__('with %1', row.user)}
                </span>
              )}
              {isJob && (
                <Button
                  small
                  minimal
                  className="jp-Apolo-openUI"
                  onClick={() => actions.openUI(row.uri)}
                >
                  {trans.__('Open web UI')}
                </Button>
              )}
              {isJob && (
                <Button
                  small
                  minimal
                  className="jp-Apolo-openLogs"
                  onClick={() => actions.openLogs(row.uri)}
                >
                  {trans.__('Logs')}
                </Button>
              )}
              {row.user && (
                <Button
                  small
                  minimal
                  className="jp-Apolo-revoke"
                  onClick={async () => {
                    if (await actions.revoke(row.uri, row.user!)) {
                      await load();
                    }
                  }}
                >
                  {trans.__('Revoke')}
                </Button>
              )}
            </div>
          </li>
        );
      })}
    </ul>
  );
}

/** A label and value in the details grid; nothing when the value is empty. */
function Field(props: {
  label: string;
  name: string;
  children: React.ReactNode;
}): JSX.Element | null {
  if (
    props.children === null ||
    props.children === undefined ||
    props.children === ''
  ) {
    return null;
  }
  return (
    <>
      <dt className="jp-Apolo-label">{props.label}</dt>
      <dd className="jp-Apolo-value" data-field={props.name}>
        {props.children}
      </dd>
    </>
  );
}

/** One job's details and actions; reloads them from `GET apolo/jobs/<id>` when shown. */
export function JobDetails(props: {
  job: IJobSummary;
  actions: IJobsActions;
  trans: TranslationBundle;
  onBack: () => void;
  onUpdate: (job: IJobSummary) => void;
}): JSX.Element {
  const { actions, trans, onUpdate } = props;
  const [details, setDetails] = React.useState<IJobDetails | null>(null);
  const [error, setError] = React.useState<ILoadError | null>(null);
  const id = props.job.id;
  const load = React.useCallback(async () => {
    try {
      const found = await actions.details(id);
      setDetails(found);
      setError(null);
      onUpdate(found);
    } catch (reason) {
      setError(describeError(reason));
    }
  }, [id, actions, onUpdate]);
  React.useEffect(() => {
    void load();
  }, [load]);

  const job: IJobSummary = details ?? props.job;
  const live = ACTIVE.has(job.status);
  const canWrite = job.access === 'write' || job.access === 'manage';
  const label = job.name ?? job.id;
  return (
    <div
      className="jp-Apolo-jobDetails"
      data-job-id={job.id}
      data-job-uri={job.uri}
      data-status={job.status}
    >
      <div className="jp-Apolo-detailsHeader">
        <ToolbarButtonComponent
          className="jp-Apolo-back"
          icon={closeIcon}
          tooltip={trans.__('Back to the job list')}
          onClick={props.onBack}
        />
        <h3 className="jp-Apolo-detailsTitle" title={label}>
          {label}
        </h3>
      </div>
      <div className="jp-Apolo-detailsStatus">
        {job.status && <StatusBadge status={job.status} trans={trans} />}
        {job.reason && <span className="jp-Apolo-jobReason">{job.reason}</span>}
      </div>
      <div className="jp-Apolo-detailsActions">
        {job.http_url && (
          <Button
            small
            className="jp-Apolo-openUI"
            title={trans.__('Open the job web UI in a new browser tab')}
            onClick={() => actions.openUI(job.id)}
          >
            {trans.__('Web UI')}
          </Button>
        )}
        <Button
          small
          className="jp-Apolo-openLogs"
          onClick={() => actions.openLogs(job.id)}
        >
          {trans.__('Logs')}
        </Button>
        {job.access === 'manage' && job.uri && (
          <Button
            small
            className="jp-Apolo-share"
            onClick={() => actions.share(job.uri)}
          >
            {trans.__('Share')}
          </Button>
        )}
        {canWrite && live && (
          <Button
            small
            className="jp-Apolo-kill jp-mod-styled jp-mod-warn"
            onClick={async () => {
              if (await actions.kill(job.id)) {
                await load();
              }
            }}
          >
            {trans.__('Kill')}
          </Button>
        )}
      </div>
      {error && <ErrorBanner error={error} />}
      <dl className="jp-Apolo-fields">
        <Field label={trans.__('Id')} name="id">
          <span className="jp-Apolo-copyable">
            <span className="jp-Apolo-mono">{job.id}</span>
            <ToolbarButtonComponent
              className="jp-Apolo-copyId"
              icon={copyIcon}
              tooltip={trans.__('Copy the job id')}
              onClick={() => actions.copy(job.id)}
            />
          </span>
        </Field>
        <Field label={trans.__('URI')} name="uri">
          {job.uri && (
            <span className="jp-Apolo-copyable">
              <span className="jp-Apolo-mono">{job.uri}</span>
              <ToolbarButtonComponent
                className="jp-Apolo-copyUri"
                icon={copyIcon}
                tooltip={trans.__('Copy the job URI')}
                onClick={() => actions.copy(job.uri)}
              />
            </span>
          )}
        </Field>
        <Field label={trans.__('Owner')} name="owner">
          {job.owner}
        </Field>
        <Field label={trans.__('Project')} name="project">
          {job.project}
        </Field>
        <Field label={trans.__('Your access')} name="access">
          {job.access}
        </Field>
        <Field label={trans.__('Exit code')} name="exit_code">
          {job.exit_code === null || job.exit_code === undefined
            ? null
            : String(job.exit_code)}
        </Field>
        <Field label={trans.__('Image')} name="image">
          <span className="jp-Apolo-mono">{job.image}</span>
        </Field>
        <Field label={trans.__('Command')} name="command">
          {job.command && (
            <span className="jp-Apolo-mono jp-Apolo-clamp" title={job.command}>
              {job.command}
            </span>
          )}
        </Field>
        <Field label={trans.__('Preset')} name="preset">
          {job.preset}
        </Field>
        <Field label={trans.__('Tags')} name="tags">
          {job.tags?.length ? job.tags.join(', ') : null}
        </Field>
        <Field label={trans.__('Web UI')} name="http_url">
          {job.http_url && (
            <a href={job.http_url} target="_blank" rel="noopener noreferrer">
              {job.http_url}
            </a>
          )}
        </Field>
        <Field label={trans.__('Life span')} name="life_span">
          {job.life_span_minutes
            ? job.life_span_minutes < 120
              ? trans.__('%1 min', job.life_span_minutes)
              : trans.__('%1 h', +(job.life_span_minutes / 60).toFixed(1))
            : null}
        </Field>
        <Field label={trans.__('Created')} name="created_at">
          {job.created_at && new Date(job.created_at).toLocaleString()}
        </Field>
        <Field label={trans.__('Volumes')} name="volumes">
          {job.volumes?.length ? (
            <ul className="jp-Apolo-volumes">
              {job.volumes.map(v => (
                <li key={v.dst} className="jp-Apolo-mono">
                  {`${v.src} → ${v.dst}${v.read_only ? ' (ro)' : ''}`}
                </li>
              ))}
            </ul>
          ) : null}
        </Field>
      </dl>
      {details?.history?.length ? (
        <>
          <h4 className="jp-Apolo-historyHeading">{trans.__('History')}</h4>
          <ol className="jp-Apolo-history">
            {details.history.map((step, i) => {
              const at = step.at ?? step.transition_time ?? null;
              return (
                <li key={i} className="jp-Apolo-historyStep">
                  <StatusBadge status={step.status} trans={trans} />
                  {step.reason && (
                    <span className="jp-Apolo-jobReason">{step.reason}</span>
                  )}
                  <span className="jp-Apolo-historyTime">
                    {at ? new Date(at).toLocaleTimeString() : ''}
                  </span>
                </li>
              );
            })}
          </ol>
        </>
      ) : null}
    </div>
  );
}
