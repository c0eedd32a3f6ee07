import type { Config } from '../config/index.js';
import { TelnyxProvider } from './telnyx.js';
import { TwilioCompatProvider, twilioApiBase } from './twilio-compat.js';
import type { SmsProvider } from './types.js';

export { SmsService, INBOUND_QUEUE } from './service.js';

/** The providers the configuration enables, the first being the default for proactive texts. */
export function createSmsProviders(cfg: Config): SmsProvider[] {
  const out: SmsProvider[] = [];
  const t = cfg.sms.telnyx;
  if (t?.apiKey && t.publicKey) out.push(new TelnyxProvider({ apiKey: t.apiKey, publicKey: t.publicKey, baseUrl: t.apiUrl }));
  const sw = cfg.sms.signalwire;
  if (sw?.spaceUrl && sw.projectId && sw.apiToken && sw.signingKey) {
    out.push(new TwilioCompatProvider({
      name: 'signalwire', apiBase: `${sw.spaceUrl.replace(/\/$/, '')}/api/laml`, accountId: sw.projectId, apiToken: sw.apiToken, signingKey: sw.signingKey,
    }));
  }
  const tw = cfg.sms.twilio;
  if (tw?.accountSid && tw.authToken) {
    out.push(new TwilioCompatProvider({ name: 'twilio', apiBase: tw.apiUrl ?? twilioApiBase, accountId: tw.accountSid, apiToken: tw.authToken, signingKey: tw.authToken }));
  }
  return out;
}
