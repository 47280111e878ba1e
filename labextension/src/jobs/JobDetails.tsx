/**
 * One job's details in the Jobs panel: status and history, exit code, image, command, preset,
 * tags, volumes, web UI, life span, and its actions (web UI, logs, share with manage, kill with
 * write while it lives, copy id/URI).
 */
import { TranslationBundle } from '@jupyterlab/translation';
import {
  Button,
  closeIcon,
  copyIcon,
  ToolbarButtonComponent
} from '@jupyterlab/ui-components';
import * as React from 'react';

import { describeError, ILoadError } from './model';
import { ErrorBanner, IJobsActions, StatusBadge } from './parts';
import { ACTIVE, IJobDetails, IJobSummary } from './types';

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
