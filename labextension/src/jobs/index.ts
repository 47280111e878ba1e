export * from './model';
export * from './types';
export { JobsPanel, JOBS_PANEL_ID } from './JobsPanel';
export { jobsPlugin } from './plugin';
