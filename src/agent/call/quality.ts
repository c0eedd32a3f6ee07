import type { Call } from '../../telephony/call.js';
import type { CallLog } from '../../business/calls.js';
import { retrying } from '../../util/retry.js';

/**
 * When `call` ends, its media quality (where the backend measured one) goes into call record `id`:
 * retried through a database blip, and a write that still fails is only logged.
 */
export function recordQualityOnEnd(calls: CallLog, id: string, call: Call, onError: (err: unknown) => void): void {
  call.once('ended', () => {
    const q = call.quality?.();
    if (q) void retrying(() => calls.quality(id, q)).catch(onError);
  });
}
