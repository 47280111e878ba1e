/**
 * The Jobs panel's React view: the job list (virtualised, running first, grouped by apolo-flow
 * project when flows run some of the jobs) with its filters, and
 * the switch to the job details (JobDetails.tsx) and the "Shared with me" / "Shared by me" views
 * (SharedList.tsx). Everything it does goes through
 * `IJobsActions` so the plugin's commands and this view share one implementation.
 */
import { TranslationBundle } from '@jupyterlab/translation';
import {
  Button,
  HTMLSelect,
  refreshIcon,
  ToolbarButtonComponent
} from '@jupyterlab/ui-components';
import * as React from 'react';

import { IApoloContext } from '../tokens';
import { IFlowJob, groupByFlow } from './flow';
import { JobDetails } from './JobDetails';
import { formatAge, JobsModel } from './model';
import { ErrorBanner, IJobsActions, StatusBadge } from './parts';
import { SharedList } from './SharedList';
import { IJobSummary, StatusFilter } from './types';
import { VirtualList } from './VirtualList';

export type { IJobsActions } from './parts';
export { JobDetails } from './JobDetails';
export { StatusBadge } from './parts';

/** Row height of the job list, in CSS pixels (two text lines). */
export const ROW_HEIGHT = 44;

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

/** One row of the list: name (or id), then status, reason, owner, preset, age. */
export function JobRow(props: {
  job: IJobSummary;
  /** The apolo-flow live job it runs, shown before its name. */
  flow?: IFlowJob | null;
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
        {props.flow && (
          <span
            className="jp-Apolo-flowJob"
            title={trans.__('apolo-flow live job (.neuro/live.yml)')}
          >
            {props.flow.suffix
              ? `${props.flow.job} ${props.flow.suffix}`
              : props.flow.job}
          </span>
        )}
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

/** A search box of the job filters: applies on Enter, or on leaving it changed. */
function FilterInput(props: {
  className: string;
  label: string;
  value: string;
  onChange: (value: string) => void;
}): JSX.Element {
  return (
    <input
      type="search"
      className={`jp-mod-styled ${props.className}`}
      aria-label={props.label}
      placeholder={props.label}
      defaultValue={props.value}
      onKeyDown={event => {
        if (event.key === 'Enter') {
          props.onChange(event.currentTarget.value);
        }
      }}
      onBlur={event => {
        if (event.currentTarget.value !== props.value) {
          props.onChange(event.currentTarget.value);
        }
      }}
    />
  );
}

/** The header of a flow project's jobs in the list ('' = the jobs no flow runs). */
function FlowHeader(props: {
  project: string;
  count: number;
  trans: TranslationBundle;
  style: React.CSSProperties;
}): JSX.Element {
  const { trans } = props;
  return (
    <div
      className="jp-Apolo-flowHeader"
      role="presentation"
      style={props.style}
      data-flow-project={props.project}
    >
      <span className="jp-Apolo-flowProject">
        {props.project
          ? trans.__('Flow project %1', props.project)
          : trans.__('Not run by a flow')}
      </span>
      <span className="jp-Apolo-jobAge">{props.count}</span>
    </div>
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
  const items = groupByFlow(jobs);
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
                  ...model.filter,
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
            <FilterInput
              className="jp-Apolo-ownerFilter"
              label={trans.__('Owner')}
              value={filter.owner}
              onChange={owner => (model.filter = { ...model.filter, owner })}
            />
            <FilterInput
              className="jp-Apolo-textFilter"
              label={trans.__('Name or tag')}
              value={filter.text}
              onChange={text => (model.filter = { ...model.filter, text })}
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
              count={items.length}
              rowHeight={ROW_HEIGHT}
              renderRow={(index, style) => {
                const item = items[index];
                return item.kind === 'flow' ? (
                  <FlowHeader
                    key={`flow:${item.project}`}
                    project={item.project}
                    count={item.count}
                    trans={trans}
                    style={style}
                  />
                ) : (
                  <JobRow
                    key={item.job.id}
                    job={item.job}
                    flow={item.flow}
                    trans={trans}
                    now={now}
                    style={style}
                    onOpen={job => setSelected(job)}
                  />
                );
              }}
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
