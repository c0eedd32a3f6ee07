// Prints .env.example from the settings table: `tsx scripts/env-example.ts > .env.example`.
import { settings } from '../src/config/index.js';

const lines = ['# frontdesk configuration. Every variable is optional; defaults are shown commented out.', ''];
for (const [name, s] of Object.entries(settings)) {
  lines.push(`# ${s.doc}`);
  const parsed = s.schema.safeParse(undefined);
  const def = parsed.success && parsed.data !== undefined ? (Array.isArray(parsed.data) ? '' : String(parsed.data)) : '';
  lines.push(`# ${name}=${def}`, '');
}
process.stdout.write(lines.join('\n'));
