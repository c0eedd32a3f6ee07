import { parseContext, type BusinessContext, type ContextInput } from '../../src/business/context/schema.js';
import { demoContext } from '../../src/business/context/demo.js';

/** The demo context with overrides, validated as the admin's editor would. */
export function demo(overrides: Partial<ContextInput> = {}): BusinessContext {
  return parseContext({ ...structuredClone(demoContext), ...overrides });
}

/** Opening hours of every day, all day: whatever time a test runs, the business is open. */
export const aroundTheClock = Object.fromEntries(Object.keys(demoContext.hours).map((d) => [d, [{ open: '00:00', close: '24:00' }]]));
