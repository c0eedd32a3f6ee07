// Prints .env.example from the settings table: `tsx scripts/env-example.ts > .env.example`.
import { pathToFileURL } from 'node:url';
import { settings } from '../src/config/index.js';

interface ZodDef {
  type: string;
  defaultValue?: unknown;
  in?: { _zod: { def: ZodDef } };
  innerType?: { _zod: { def: ZodDef } };
}

/**
 * The default as it is written in the environment: the value before any transform, so an
 * object-valued setting (FRONTDESK_SIP_USERS parses "101:pw" into a map) shows its text form.
 */
export function envDefault(schema: unknown): string {
  let def = (schema as { _zod: { def: ZodDef } })._zod.def;
  for (;;) {
    if (def.type === 'default') {
      const v = def.defaultValue;
      if (v === undefined || v === null) return '';
      if (Array.isArray(v)) return v.join(',');
      if (typeof v === 'object') throw new Error(`a default must be written as text, not ${JSON.stringify(v)}`);
      return String(v);
    }
    const next = def.type === 'pipe' ? def.in : def.innerType;
    if (!next) return '';
    def = next._zod.def;
  }
}

export function envExample(): string {
  const lines = ['# frontdesk configuration. Every variable is optional; defaults are shown commented out.', ''];
  for (const [name, s] of Object.entries(settings)) {
    lines.push(`# ${s.doc}`, `# ${name}=${envDefault(s.schema)}`, '');
  }
  return lines.join('\n');
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) process.stdout.write(envExample());
