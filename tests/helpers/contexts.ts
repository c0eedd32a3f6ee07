import { parseContext, type BusinessContext, type ContextInput } from '../../src/business/context/schema.js';
import { demoContext } from '../../src/business/context/demo.js';

/** The demo context with overrides, validated as the admin's editor would. */
export function demo(overrides: Partial<ContextInput> = {}): BusinessContext {
  return parseContext({ ...structuredClone(demoContext), ...overrides });
}
