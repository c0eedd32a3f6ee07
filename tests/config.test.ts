import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, settings } from '../src/config/index.js';
import { envExample } from '../scripts/env-example.js';
import { sipGuardDefaults } from '../src/telephony/sip/guard.js';
import { callbackFromConfig } from '../src/telephony/index.js';
import { tcpDefaults } from '../src/telephony/sip/stack.js';
import { sessionTimerDefaults } from '../src/telephony/sip/session-timer.js';

describe('configuration', () => {
  it('has working defaults', () => {
    const c = loadConfig({});
    expect(c.http.port).toBe(8080);
    expect(c.sip.port).toBe(5060);
    expect(c.dataDir).toBe('./data');
    expect(c.modelsDir).toBe('./models');
    expect(c.databaseUrl).toBeUndefined();
    expect(c.telephony).toBe('sip');
  });

  it('names every wrong variable and says what is wrong', () => {
    let err: unknown;
    try {
      loadConfig({ FRONTDESK_HTTP_PORT: 'eighty', DATABASE_URL: 'mysql://x', FRONTDESK_SIP_TRUSTED: '10.0.0.0/8,not-an-ip' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const msg = (err as Error).message;
    expect(msg).toMatch(/FRONTDESK_HTTP_PORT: .*"eighty"/);
    expect(msg).toMatch(/DATABASE_URL: must be a postgres:\/\/ or postgresql:\/\/ URL/);
    expect(msg).toMatch(/FRONTDESK_SIP_TRUSTED: "not-an-ip" is not an IP address or CIDR/);
  });

  it('FreeSWITCH: the removed playAudio mode is refused by name; the callback address is split for drachtio-fsmrf', () => {
    expect(() => loadConfig({ FRONTDESK_FORK_STREAMING: 'false' })).toThrow(/FRONTDESK_FORK_STREAMING: must be true: only bidirectional streaming/);
    const c = loadConfig({ FRONTDESK_FREESWITCH_CALLBACK_LISTEN: '0.0.0.0:8085', FRONTDESK_FREESWITCH_CALLBACK_ADVERTISE: 'frontdesk.internal' });
    expect(callbackFromConfig(c)).toEqual({ listenAddress: '0.0.0.0', listenPort: 8085, advertisedAddress: 'frontdesk.internal', advertisedPort: 8085 });
    expect(callbackFromConfig(loadConfig({}))).toEqual({ listenAddress: undefined, listenPort: undefined, advertisedAddress: undefined, advertisedPort: undefined });
    expect(() => loadConfig({ FRONTDESK_FREESWITCH_CALLBACK_LISTEN: 'ws://x' })).toThrow(/FRONTDESK_FREESWITCH_CALLBACK_LISTEN: must be host or host:port/);
  });

  it('rejects an RTP range that is upside down', () => {
    expect(() => loadConfig({ FRONTDESK_RTP_PORT_MIN: '30000', FRONTDESK_RTP_PORT_MAX: '20000' })).toThrow(
      /FRONTDESK_RTP_PORT_MIN: 30000 is above FRONTDESK_RTP_PORT_MAX 20000/,
    );
  });

  it('the SIP guard, TCP and session-timer settings default to what the stack uses, in seconds', () => {
    const c = loadConfig({});
    expect(c.sip.guard).toEqual({ maxFailures: sipGuardDefaults.maxFailures, windowS: sipGuardDefaults.windowMs / 1000, blockS: sipGuardDefaults.blockMs / 1000 });
    expect(c.sip.tcp).toEqual({ idleS: tcpDefaults.idleMs / 1000, maxPerSource: tcpDefaults.maxPerSource, maxTotal: tcpDefaults.maxTotal });
    expect(c.sip.sessionTimer).toEqual({ requestS: sessionTimerDefaults.requestSeconds, minS: sessionTimerDefaults.minSeconds });
    const set = loadConfig({ FRONTDESK_SIP_GUARD_BLOCK_S: '3600', FRONTDESK_SIP_TCP_IDLE_S: '30', FRONTDESK_SIP_SESSION_EXPIRES_S: '600', FRONTDESK_SIP_MIN_SE_S: '120' });
    expect([set.sip.guard.blockS, set.sip.tcp.idleS, set.sip.sessionTimer.requestS, set.sip.sessionTimer.minS]).toEqual([3600, 30, 600, 120]);
  });

  it('refuses session-timer values below the RFC 4028 floor or an interval below our own Min-SE', () => {
    expect(() => loadConfig({ FRONTDESK_SIP_MIN_SE_S: '30' })).toThrow(/FRONTDESK_SIP_MIN_SE_S: .*"30"/);
    expect(() => loadConfig({ FRONTDESK_SIP_SESSION_EXPIRES_S: '100', FRONTDESK_SIP_MIN_SE_S: '300' })).toThrow(
      /FRONTDESK_SIP_SESSION_EXPIRES_S: 100 is below FRONTDESK_SIP_MIN_SE_S 300/,
    );
    expect(() => loadConfig({ FRONTDESK_SIP_TCP_MAX_TOTAL: '0' })).toThrow(/FRONTDESK_SIP_TCP_MAX_TOTAL/);
  });

  it('documents every variable in .env.example', () => {
    const example = readFileSync(new URL('../.env.example', import.meta.url), 'utf8');
    for (const name of Object.keys(settings)) expect(example).toMatch(new RegExp(`^#? ?${name}=`, 'm'));
  });

  it('.env.example is what the script generates, and each default it shows, uncommented, changes nothing', () => {
    const example = readFileSync(new URL('../.env.example', import.meta.url), 'utf8');
    expect(example).toBe(envExample());
    const defaults = loadConfig({});
    for (const [, name, value] of example.matchAll(/^# ([A-Z_]+)=(.*)$/gm)) {
      expect(value, name).not.toMatch(/\[object |undefined|null/);
      expect(loadConfig({ [name!]: value }), `${name}=${value}`).toEqual(defaults);
    }
    // The object-valued one is written the way a user writes it, and that form parses.
    expect(loadConfig({ FRONTDESK_SIP_USERS: '101:secret-one,102:secret-two' }).sip.users).toEqual({ 101: 'secret-one', 102: 'secret-two' });
  });

  it('never echoes a secret in a configuration error, whatever is wrong with it', () => {
    const secret = 'Hunter2-s3cret-value';
    // Every setting that carries a credential, each given a wrong value with the secret inside.
    const env: Record<string, string> = {
      DATABASE_URL: `mysql://admin:${secret}@db`,
      FRONTDESK_SMTP_URL: `http://owner:${secret}@mail.example.com`,
      FRONTDESK_SIP_USERS: `101:ok-password,${secret}`,
    };
    for (const name of Object.keys(settings).filter((n) => /PASSWORD|SECRET|TOKEN|_KEY$|AUTH|_SID$/.test(n))) env[name] = `${secret}\u0000,{[`;
    let err: unknown;
    try {
      loadConfig(env);
    } catch (e) {
      err = e;
    }
    const msg = err instanceof Error ? err.message : '';
    expect(msg).toMatch(/DATABASE_URL: /);
    expect(msg).toMatch(/FRONTDESK_SMTP_URL: /);
    expect(msg).toMatch(/FRONTDESK_SIP_USERS: entry 2 is not user:password/);
    expect(msg).not.toContain(secret);
    expect(msg).not.toContain('ok-password');
  });
});
