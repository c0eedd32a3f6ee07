import { defineConfig } from 'vite';
import { fileURLToPath } from 'node:url';

/** The admin console: built to web/dist and served by frontdesk's own HTTP server. */
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/',
  build: { outDir: 'dist', emptyOutDir: true, target: 'es2022' },
  logLevel: 'warn',
});
