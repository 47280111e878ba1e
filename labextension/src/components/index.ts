export * from './ConnectionPanel';
export * from './ConnectionView';
export * from './Identity';
export * from './Notice';
export * from './useConnectionState';
