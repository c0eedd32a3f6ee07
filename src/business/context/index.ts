export * from './schema.js';
export * from './service.js';
export * from './yaml.js';
export { demoContext } from './demo.js';
