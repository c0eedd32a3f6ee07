#!/usr/bin/env node
// Runs the TypeScript sources directly through tsx: no build step between a clone and a running service.
import { register } from 'tsx/esm/api';

register();
if (typeof process.loadEnvFile === 'function') {
  try {
    process.loadEnvFile('.env');
  } catch {
    // no .env: the environment alone configures frontdesk
  }
}
const { runCli } = await import('../src/cli/main.ts');
const code = await runCli(process.argv.slice(2));
if (code !== 0) process.exitCode = code;
