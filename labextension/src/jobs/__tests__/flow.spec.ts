/**
 * Grouping the job list by apolo-flow project from the tags apolo-flow sets on live jobs.
 */
import { flowJobOf, groupByFlow, JobListItem } from '../flow';
import { job } from './jobs';

const T = '2026-01-01T10:00:00Z';
const flowTags = (project: string, live: string, suffix?: string) => [
  `project:${project}`,
  'flow:live',
  `job:${live}`,
  ...(suffix ? [`multi:${suffix}`] : [])
];

function shape(items: JobListItem[]): string[] {
  return items.map(item =>
    item.kind === 'flow'
      ? `# ${item.project || '-'} (${item.count})`
      : `${item.job.id}${item.flow ? ` ${item.flow.job}` : ''}`
  );
}

describe('flowJobOf', () => {
  it("reads apolo-flow's project, job and multi tags", () => {
    expect(flowJobOf(flowTags('awesome-project', 'jupyter', 'a1'))).toEqual({
      project: 'awesome-project',
      job: 'jupyter',
      suffix: 'a1'
    });
    expect(flowJobOf(['project:p', 'job:train'])?.suffix).toBeNull();
  });

  it('needs both project: and job: (other tags are not a flow)', () => {
    expect(flowJobOf(['kind:notebook'])).toBeNull();
    expect(flowJobOf(['project:p'])).toBeNull();
    expect(flowJobOf(['job:train'])).toBeNull();
    expect(flowJobOf(['project:', 'job:train'])).toBeNull();
  });
});

describe('groupByFlow', () => {
  it('adds no headers when no flow runs any job', () => {
    const jobs = [job('a', 'running', T), job('b', 'pending', T)];
    expect(shape(groupByFlow(jobs))).toEqual(['a', 'b']);
  });

  it('groups by flow project in the order of each group first job, the others together', () => {
    const jobs = [
      job('a', 'running', T, { tags: flowTags('demo', 'jupyter') }),
      job('b', 'running', T),
      job('c', 'running', T, { tags: flowTags('other', 'train') }),
      job('d', 'pending', T, { tags: flowTags('demo', 'tensorboard') }),
      job('e', 'succeeded', T, { tags: ['kind:x'] })
    ];
    expect(shape(groupByFlow(jobs))).toEqual([
      '# demo (2)',
      'a jupyter',
      'd tensorboard',
      '# - (2)',
      'b',
      'e',
      '# other (1)',
      'c train'
    ]);
  });
});
