/**
 * apolo-flow awareness of the job list: live jobs carry the tags apolo-flow sets
 * (`project:<project id>`, `flow:<flow id>`, `job:<live job id>`, `multi:<suffix>`; reference §6,
 * apolo-flow `context.py`), so the Jobs panel can group them by flow project and show each one's
 * live job name, as `apolo-flow ps` does.
 */
import { IJobSummary } from './types';

/** The apolo-flow live job a platform job runs. */
export interface IFlowJob {
  /** The flow project id (`project:` tag). */
  project: string;
  /** The live job id in `.neuro/live.yml` (`job:` tag). */
  job: string;
  /** The `multi:` suffix of a multi job, else null. */
  suffix: string | null;
}

/** One row of the job list: a flow project's header (`project` '' = jobs not run by a flow), or a job. */
export type JobListItem =
  | { kind: 'flow'; project: string; count: number }
  | { kind: 'job'; job: IJobSummary; flow: IFlowJob | null };

/** The live job that `tags` name, or null when they are not apolo-flow's (both `project:` and `job:` needed). */
export function flowJobOf(tags: readonly string[]): IFlowJob | null {
  const value = (prefix: string) =>
    tags.find(tag => tag.startsWith(prefix))?.slice(prefix.length) || null;
  const project = value('project:');
  const job = value('job:');
  return project && job ? { project, job, suffix: value('multi:') } : null;
}

/**
 * `jobs` (already in list order) as list rows. When none comes from a flow, just the jobs; else one
 * header per flow project, then its jobs, groups in the order of their first job (so the group of
 * the first running job leads), jobs not run by a flow in a group of their own (project '').
 */
export function groupByFlow(jobs: readonly IJobSummary[]): JobListItem[] {
  const flows = jobs.map(job => flowJobOf(job.tags));
  if (!flows.some(Boolean)) {
    return jobs.map(job => ({ kind: 'job', job, flow: null }));
  }
  const groups = new Map<string, JobListItem[]>();
  jobs.forEach((job, i) => {
    const key = flows[i]?.project ?? '';
    const rows = groups.get(key) ?? [];
    rows.push({ kind: 'job', job, flow: flows[i] });
    groups.set(key, rows);
  });
  const items: JobListItem[] = [];
  for (const [project, rows] of groups) {
    items.push({ kind: 'flow', project, count: rows.length }, ...rows);
  }
  return items;
}
