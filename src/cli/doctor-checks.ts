import { lookup } from 'node:dns/promises';
import { createSocket } from 'node:dgram';
import { connect } from 'node:net';
import { networkInterfaces } from 'node:os';
import ipaddr from 'ipaddr.js';
import type { Config } from '../config/index.js';
import { trunkFromConfig } from '../telephony/index.js';
import { firstLanAddress } from '../telephony/sip/endpoint.js';
import type { CliEndpointInfo } from '../http/cli-endpoint.js';
import { twilioApiBase } from '../sms/twilio-compat.js';
import { checkAri } from './doctor-ari.js';
import { checkFreeswitch } from './doctor-freeswitch.js';

/** What a new user gets wrong about the network, the PBX and the providers; one check each. */

export interface Check {
  name: string;
  status: 'ok' | 'warn' | 'fail';
  detail: string;
}

export const doctorDefaults = {
  /** How long one network probe may take, ms. */
  probeTimeoutMs: 4_000,
  /** Fewer RTP ports than this is a warning: each call holds one. */
  minRtpPorts: 10,
} as const satisfies Record<string, number>;

const NOT_PUBLIC = new Set(['private', 'loopback', 'linkLocal', 'uniqueLocal', 'carrierGradeNat', 'unspecified', 'reserved', 'broadcast', 'multicast']);

async function addressOf(host: string): Promise<string | undefined> {
  if (ipaddr.isValid(host)) return host;
  try {
    return (await lookup(host)).address;
  } catch {
    return undefined;
  }
}

function isPublic(addr: string): boolean {
  return !NOT_PUBLIC.has(ipaddr.process(addr).range());
}

function localAddresses(): Set<string> {
  const out = new Set<string>();
  for (const list of Object.values(networkInterfaces())) for (const a of list ?? []) out.add(a.address);
  return out;
}

/** The address put in Contact and SDP: does the far end reach it? */
export async function checkSipAddress(cfg: Config): Promise<Check> {
  const name = 'sip address';
  const advertised = cfg.sip.advertise ?? (cfg.sip.bind === '0.0.0.0' || cfg.sip.bind === '::' ? firstLanAddress() : cfg.sip.bind);
  const addr = await addressOf(advertised);
  if (!addr) return { name, status: 'fail', detail: `FRONTDESK_SIP_ADVERTISE ${advertised} does not resolve to an address` };
  const pub = isPublic(addr);
  if (!pub && !localAddresses().has(addr)) {
    return { name, status: 'fail', detail: `${advertised} is a private address no interface of this machine has: peers would send calls and audio nowhere; set FRONTDESK_SIP_ADVERTISE` };
  }
  const trunk = trunkFromConfig(cfg);
  if (trunk && !pub) {
    const trunkAddr = await addressOf(trunk.host);
    if (!trunkAddr || isPublic(trunkAddr)) {
      return {
        name, status: 'warn',
        detail: `peers are told to reach this machine at ${advertised}, a private address, but the trunk ${trunk.host} is on the internet: set FRONTDESK_SIP_ADVERTISE to the public address (and forward ${cfg.sip.port} and the RTP ports), or calls will have no audio`,
      };
    }
  }
  return { name, status: 'ok', detail: `${advertised}${pub ? ' (public)' : ' (this machine)'}` };
}

function udpFree(host: string, port: number): Promise<boolean> {
  return new Promise((done) => {
    const s = createSocket(host.includes(':') ? 'udp6' : 'udp4');
    s.once('error', () => done(false));
    s.bind({ address: host, port }, () => s.close(() => done(true)));
  });
}

/** The RTP range: big enough, clear of the SIP port, and its ends free. */
export async function checkRtpRange(cfg: Config): Promise<Check> {
  const name = 'rtp ports';
  const { portMin, portMax } = cfg.rtp;
  const count = portMax - portMin + 1;
  const range = `${portMin}-${portMax}`;
  if (cfg.telephony === 'sip' && cfg.sip.port >= portMin && cfg.sip.port <= portMax) {
    return { name, status: 'fail', detail: `the SIP port ${cfg.sip.port} lies inside the RTP range ${range}` };
  }
  const busy: number[] = [];
  for (const p of new Set([portMin, portMax])) if (!(await udpFree(cfg.sip.bind, p))) busy.push(p);
  if (busy.length) return { name, status: 'warn', detail: `udp ${busy.join(' and ')} in ${range} is in use (frontdesk running, or another program)` };
  if (count < doctorDefaults.minRtpPorts) {
    return { name, status: 'warn', detail: `${range} holds ${count} ports: at most ${count} calls at once` };
  }
  return { name, status: 'ok', detail: `udp ${range} (${count} ports); open them in the firewall` };
}

/** The trunk's registration, as the running server sees it. */
export async function checkTrunkRegistration(cfg: Config, server: CliEndpointInfo | undefined): Promise<Check | undefined> {
  const trunk = trunkFromConfig(cfg);
  if (cfg.telephony !== 'sip' || !trunk) return undefined;
  const name = 'trunk';
  if (!trunk.register) return { name, status: 'ok', detail: `${trunk.host}:${trunk.port}, IP-authenticated (no registration)` };
  if (!server) return { name, status: 'warn', detail: `${trunk.host}: frontdesk is not running here, so its registration is unknown; start it and run doctor again` };
  let status: { trunk?: { registered: boolean } | null };
  try {
    const res = await fetch(`${server.url}/status`, { headers: { authorization: `Bearer ${server.token}` }, signal: AbortSignal.timeout(doctorDefaults.probeTimeoutMs) });
    if (!res.ok) return { name, status: 'warn', detail: `the running frontdesk did not say (it answered ${res.status})` };
    status = (await res.json()) as typeof status;
  } catch (e) {
    return { name, status: 'warn', detail: `the running frontdesk did not say: ${(e as Error).message}` };
  }
  return status.trunk?.registered
    ? { name, status: 'ok', detail: `registered with ${trunk.host} as ${trunk.username}` }
    : { name, status: 'fail', detail: `not registered with ${trunk.host}: check FRONTDESK_SIP_TRUNK_USER and FRONTDESK_SIP_TRUNK_PASSWORD (the log says what the trunk answered)` };
}

/** The PBX connection for the chosen backend. */
export async function checkPbx(cfg: Config): Promise<Check[]> {
  if (cfg.telephony === 'asterisk') return checkAri(cfg, doctorDefaults.probeTimeoutMs);
  if (cfg.telephony === 'freeswitch') return checkFreeswitch(cfg, doctorDefaults.probeTimeoutMs);
  return [];
}

/** One harmless authenticated GET per configured SMS provider: are the credentials right? */
export async function checkSmsCredentials(cfg: Config): Promise<Check[]> {
  const probes: { name: string; url: string; auth: string; fix: string }[] = [];
  const t = cfg.sms.telnyx;
  if (t?.apiKey) {
    // GET /v2/balance needs only a valid key.
    probes.push({ name: 'sms telnyx', url: `${(t.apiUrl ?? 'https://api.telnyx.com/v2').replace(/\/$/, '')}/balance`, auth: `Bearer ${t.apiKey}`, fix: 'FRONTDESK_TELNYX_API_KEY' });
  }
  const sw = cfg.sms.signalwire;
  if (sw?.spaceUrl && sw.projectId && sw.apiToken) {
    probes.push({
      name: 'sms signalwire', url: `${sw.spaceUrl.replace(/\/$/, '')}/api/laml/2010-04-01/Accounts/${encodeURIComponent(sw.projectId)}.json`,
      auth: `Basic ${Buffer.from(`${sw.projectId}:${sw.apiToken}`).toString('base64')}`, fix: 'FRONTDESK_SIGNALWIRE_PROJECT_ID and _API_TOKEN',
    });
  }
  const tw = cfg.sms.twilio;
  if (tw?.accountSid && tw.authToken) {
    probes.push({
      name: 'sms twilio', url: `${(tw.apiUrl ?? twilioApiBase).replace(/\/$/, '')}/2010-04-01/Accounts/${encodeURIComponent(tw.accountSid)}.json`,
      auth: `Basic ${Buffer.from(`${tw.accountSid}:${tw.authToken}`).toString('base64')}`, fix: 'FRONTDESK_TWILIO_ACCOUNT_SID and _AUTH_TOKEN',
    });
  }
  return Promise.all(probes.map(async (p): Promise<Check> => {
    try {
      const res = await fetch(p.url, { headers: { authorization: p.auth, accept: 'application/json' }, signal: AbortSignal.timeout(doctorDefaults.probeTimeoutMs) });
      if (res.status === 401 || res.status === 403) return { name: p.name, status: 'fail', detail: `the provider refused the credentials (${res.status}): check ${p.fix}` };
      if (!res.ok) return { name: p.name, status: 'warn', detail: `${new URL(p.url).host} answered ${res.status}` };
      return { name: p.name, status: 'ok', detail: `credentials accepted by ${new URL(p.url).host}` };
    } catch (e) {
      return { name: p.name, status: 'warn', detail: `${new URL(p.url).host} did not answer (${(e as Error).message})` };
    }
  }));
}

/** The URL providers post webhooks to: public, and answering. */
export async function checkPublicUrl(cfg: Config): Promise<Check> {
  const name = 'public url';
  const url = cfg.http.publicUrl!;
  const needed = cfg.sms.telnyx?.apiKey || cfg.sms.signalwire?.spaceUrl || cfg.sms.twilio?.accountSid;
  let host: string;
  try {
    host = new URL(url).hostname.replace(/^\[|\]$/g, '');
  } catch {
    return { name, status: 'fail', detail: `FRONTDESK_PUBLIC_URL ${url} is not a URL` };
  }
  const addr = host === 'localhost' ? '127.0.0.1' : await addressOf(host);
  const isPrivate = !addr || !isPublic(addr);
  if (!needed) return { name, status: 'ok', detail: `${url} (no SMS provider set, so nothing needs to reach it yet)` };
  if (isPrivate) {
    return { name, status: 'fail', detail: `${url} is not reachable from the internet: set FRONTDESK_PUBLIC_URL to the https address the SMS provider can post to` };
  }
  try {
    const res = await fetch(`${url.replace(/\/$/, '')}/health`, { signal: AbortSignal.timeout(doctorDefaults.probeTimeoutMs) });
    return res.ok
      ? { name, status: new URL(url).protocol === 'https:' ? 'ok' : 'warn', detail: `${url} answers${new URL(url).protocol === 'https:' ? '' : ' (over plain http: use https)'}` }
      : { name, status: 'warn', detail: `${url}/health answered ${res.status}: is it this frontdesk?` };
  } catch (e) {
    return { name, status: 'warn', detail: `${url} does not answer from here (${(e as Error).message}): is frontdesk running and the address forwarded to it?` };
  }
}
