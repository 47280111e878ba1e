import { IJobSummary } from '../types';

/** A job summary as `GET apolo/jobs` sends it. */
export function job(
  id: string,
  status: IJobSummary['status'],
  created: string,
  extra: Partial<IJobSummary> = {}
): IJobSummary {
  return {
    id,
    name: null,
    owner: 'alice',
    project: 'alice',
    status,
    reason: null,
    description: null,
    exit_code: null,
    created_at: created,
    started_at: null,
    finished_at: null,
    image: 'ubuntu',
    command: 'sleep 1',
    preset: 'cpu-small',
    tags: [],
    http_url: null,
    uri: `job://default/local/alice/${id}`,
    life_span_minutes: null,
    volumes: [],
    access: 'manage',
    ...extra
  };
}
