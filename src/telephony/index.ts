import { join } from 'node:path';
import type { Logger } from 'pino';
import type { Config } from '../config/index.js';
import type { Telephony } from './call.js';
import { SipEndpoint, type TrunkConfig } from './sip/endpoint.js';
import { AriTelephony } from './asterisk/ari.js';
import { FsTelephony } from './freeswitch/index.js';
import { ForkServer } from './freeswitch/fork-server.js';
import { DrachtioLibSeam, type DrachtioOptions } from './freeswitch/drachtio.js';

export type { Call, Telephony } from './call.js';
import type { OutboundHook } from './dial-guard.js';
import { resolvePolicy, type DialPolicy } from '../business/dial-policy.js';

export interface TelephonyHooks {
  /** Every outbound attempt on any backend, allowed or refused, with who asked (audit log). */
  onOutbound?: OutboundHook;
}

/** The one dial policy from the settings, for every backend and for saving contexts. */
export function dialPolicyFromConfig(cfg: Config): DialPolicy {
  return resolvePolicy({
    country: cfg.dial.country as DialPolicy['country'], allowInternational: cfg.dial.international, allowPremium: cfg.dial.premium,
    extensionPattern: cfg.dial.extensions, trustedNetworks: cfg.sip.trusted,
  });
}

export function trunkFromConfig(cfg: Config): TrunkConfig | undefined {
  if (!cfg.sip.trunk) return undefined;
  const m = /^([^:;]+)(?::(\d+))?(?:;transport=(udp|tcp))?$/i.exec(cfg.sip.trunk)!;
  return {
    host: m[1]!,
    port: m[2] ? Number(m[2]) : 5060,
    transport: (m[3]?.toUpperCase() ?? 'UDP') as 'UDP' | 'TCP',
    username: cfg.sip.trunkUser,
    password: cfg.sip.trunkPassword,
    register: cfg.sip.register ?? !!cfg.sip.trunkUser,
    callerId: cfg.sip.callerId,
  };
}

/** host, host:port or [v6]:port → parts. */
export function splitHostPort(v: string): { host: string; port: number | undefined } {
  const m = /^\[([^\]]+)\](?::(\d+))?$/.exec(v) ?? /^([^:]+)(?::(\d+))?$/.exec(v);
  if (!m) return { host: v, port: undefined };
  return { host: m[1]!, port: m[2] ? Number(m[2]) : undefined };
}

/** Where FreeSWITCH's per-call outbound ESL connections come back to (drachtio-fsmrf's listener). */
export function callbackFromConfig(cfg: Config): DrachtioOptions['callback'] {
  const listen = cfg.freeswitch.callbackListen ? splitHostPort(cfg.freeswitch.callbackListen) : undefined;
  const adv = cfg.freeswitch.callbackAdvertise ? splitHostPort(cfg.freeswitch.callbackAdvertise) : undefined;
  return { listenAddress: listen?.host, listenPort: listen?.port, advertisedAddress: adv?.host, advertisedPort: adv?.port ?? listen?.port };
}

/** The configured backend, or undefined for FRONTDESK_TELEPHONY=none. */
export function createTelephony(cfg: Config, logger: Logger, hooks: TelephonyHooks = {}): Telephony | undefined {
  switch (cfg.telephony) {
    case 'none':
      return undefined;
    case 'sip':
      return new SipEndpoint({
        bind: cfg.sip.bind,
        port: cfg.sip.port,
        advertise: cfg.sip.advertise,
        trusted: cfg.sip.trusted,
        users: cfg.sip.users,
        trunk: trunkFromConfig(cfg),
        dialPolicy: dialPolicyFromConfig(cfg),
        rtpPortMin: cfg.rtp.portMin,
        rtpPortMax: cfg.rtp.portMax,
        maxCalls: cfg.calls.max,
        mediaTimeoutMs: cfg.rtp.mediaTimeoutS * 1000,
        guard: { maxFailures: cfg.sip.guard.maxFailures, windowMs: cfg.sip.guard.windowS * 1000, blockMs: cfg.sip.guard.blockS * 1000 },
        tcp: { idleMs: cfg.sip.tcp.idleS * 1000, maxPerSource: cfg.sip.tcp.maxPerSource, maxTotal: cfg.sip.tcp.maxTotal },
        sessionTimer: { requestSeconds: cfg.sip.sessionTimer.requestS, minSeconds: cfg.sip.sessionTimer.minS },
        logger: logger.child({ mod: 'sip' }),
        ...(hooks.onOutbound ? { onOutbound: hooks.onOutbound } : {}),
      });
    case 'asterisk':
      return new AriTelephony({
        url: cfg.asterisk.url!,
        user: cfg.asterisk.user,
        password: cfg.asterisk.password!,
        app: cfg.asterisk.app,
        mediaAddress: cfg.asterisk.mediaAddress,
        media: cfg.asterisk.media,
        rtpPortMin: cfg.rtp.portMin,
        rtpPortMax: cfg.rtp.portMax,
        trunkEndpoint: cfg.asterisk.trunkEndpoint,
        extensionEndpoint: cfg.asterisk.extensionEndpoint,
        dialPolicy: dialPolicyFromConfig(cfg),
        mediaTimeoutMs: cfg.rtp.mediaTimeoutS * 1000,
        maxCalls: cfg.calls.max,
        recordingsDir: join(cfg.dataDir, 'recordings'),
        logger: logger.child({ mod: 'ari' }),
        ...(hooks.onOutbound ? { onOutbound: hooks.onOutbound } : {}),
      });
    case 'freeswitch': {
      const [dh, dp] = cfg.freeswitch.drachtio.split(':');
      const [eh, ep] = cfg.freeswitch.esl.split(':');
      return new FsTelephony({
        seam: new DrachtioLibSeam({
          drachtio: { host: dh!, port: Number(dp), secret: cfg.freeswitch.drachtioSecret! },
          freeswitch: { address: eh!, port: Number(ep), secret: cfg.freeswitch.eslSecret! },
          trunkAuth: cfg.sip.trunkUser && cfg.sip.trunkPassword ? { username: cfg.sip.trunkUser, password: cfg.sip.trunkPassword } : undefined,
          callback: callbackFromConfig(cfg),
        }),
        forks: new ForkServer(),
        forkUrl: cfg.freeswitch.forkUrl,
        trunkUri: cfg.freeswitch.trunkUri,
        extensionUri: cfg.freeswitch.extensionUri,
        dialPolicy: dialPolicyFromConfig(cfg),
        maxCalls: cfg.calls.max,
        logger: logger.child({ mod: 'freeswitch' }),
        ...(hooks.onOutbound ? { onOutbound: hooks.onOutbound } : {}),
      });
    }
  }
}
