import type { Config } from '../config/index.js';
import type { Check } from './doctor-checks.js';

/**
 * `frontdesk doctor` against Asterisk's ARI: reachable with these credentials, the modules
 * frontdesk needs loaded (GET /asterisk/modules), the Stasis application registered, and for the
 * websocket media mode chan_websocket's control format (its sorcery object over ARI's dynamic
 * configuration).
 */

/** Modules by what needs them; names as /asterisk/modules lists them. */
const NEEDED: { module: string; why: string; mode?: 'rtp' | 'websocket' }[] = [
  { module: 'res_ari.so', why: 'ARI itself' },
  { module: 'res_stasis.so', why: 'the Stasis application' },
  { module: 'app_stasis.so', why: 'Stasis() in the dialplan' },
  { module: 'res_ari_channels.so', why: 'answering, originating, externalMedia' },
  { module: 'res_ari_bridges.so', why: 'bridging the caller with its media leg' },
  { module: 'res_ari_recordings.so', why: 'fetching recordings' },
  { module: 'bridge_softmix.so', why: 'mixing bridges' },
  { module: 'bridge_simple.so', why: 'two-party bridges' },
  { module: 'chan_bridge_media.so', why: 'bridge recording (the Recorder channel)' },
  { module: 'codec_ulaw.so', why: 'μ-law media' },
  { module: 'chan_rtp.so', why: 'externalMedia over RTP', mode: 'rtp' },
  { module: 'res_rtp_multicast.so', why: 'chan_rtp', mode: 'rtp' },
  { module: 'chan_websocket.so', why: 'externalMedia over WebSocket', mode: 'websocket' },
];

interface AriModule {
  name: string;
  status?: string;
}

export async function checkAri(cfg: Config, timeoutMs: number): Promise<Check[]> {
  const base = `${cfg.asterisk.url!.replace(/\/$/, '')}/ari`;
  const headers = { authorization: `Basic ${Buffer.from(`${cfg.asterisk.user}:${cfg.asterisk.password}`).toString('base64')}` };
  const get = (path: string) => fetch(`${base}${path}`, { headers, signal: AbortSignal.timeout(timeoutMs) });
  const name = 'asterisk ari';
  let version = '';
  try {
    const res = await get('/asterisk/info');
    if (res.status === 401) return [{ name, status: 'fail', detail: `${cfg.asterisk.url} refused user ${cfg.asterisk.user}: check FRONTDESK_ARI_USER/PASSWORD against asterisk/ari.conf` }];
    if (!res.ok) return [{ name, status: 'fail', detail: `${base}/asterisk/info answered ${res.status}: is ARI enabled (http.conf, ari.conf, res_ari_asterisk.so)?` }];
    const info = (await res.json().catch(() => ({}))) as { system?: { version?: string } };
    version = info.system?.version ?? '';
  } catch (e) {
    return [{ name, status: 'fail', detail: `${cfg.asterisk.url} does not answer (${(e as Error).message}): is Asterisk running with ARI on?` }];
  }
  const out: Check[] = [{ name, status: 'ok', detail: `${cfg.asterisk.url} as ${cfg.asterisk.user}${version ? `, Asterisk ${version}` : ''}` }];
  out.push(await modules(get, cfg.asterisk.media));
  out.push(await stasisApp(get, cfg.asterisk.app));
  if (cfg.asterisk.media === 'websocket') out.push(await controlFormat(get, version));
  return out;
}

type Get = (path: string) => Promise<Response>;

async function modules(get: Get, media: 'rtp' | 'websocket'): Promise<Check> {
  const name = 'asterisk modules';
  try {
    const res = await get('/asterisk/modules');
    if (!res.ok) return { name, status: 'warn', detail: `/asterisk/modules answered ${res.status}: cannot check the modules frontdesk needs` };
    // Names with or without ".so", as Asterisk versions list them.
    const bare = (n: string) => n.replace(/\.so$/, '');
    const loaded = new Map(((await res.json()) as AriModule[]).map((m) => [bare(m.name), m.status ?? 'Running']));
    const missing = NEEDED.filter((n) => (!n.mode || n.mode === media) && loaded.get(bare(n.module)) !== 'Running');
    if (missing.length) {
      return { name, status: 'fail', detail: `not running: ${missing.map((m) => `${m.module} (${m.why})`).join(', ')}; load them in modules.conf (see asterisk/modules.conf)` };
    }
    return { name, status: 'ok', detail: `all ${NEEDED.filter((n) => !n.mode || n.mode === media).length} modules for ${media} media are running` };
  } catch (e) {
    return { name, status: 'warn', detail: `could not list modules: ${(e as Error).message}` };
  }
}

async function stasisApp(get: Get, app: string): Promise<Check> {
  const name = 'asterisk stasis app';
  try {
    const res = await get(`/applications/${encodeURIComponent(app)}`);
    if (res.ok) return { name, status: 'ok', detail: `${app} is registered: frontdesk is connected` };
    if (res.status === 404) {
      return { name, status: 'warn', detail: `${app} is not registered: frontdesk is not running or not connected to this Asterisk (Stasis(${app}) calls fail until it is)` };
    }
    return { name, status: 'warn', detail: `/applications/${app} answered ${res.status}` };
  } catch (e) {
    return { name, status: 'warn', detail: `could not check the Stasis app: ${(e as Error).message}` };
  }
}

async function controlFormat(get: Get, version: string): Promise<Check> {
  const name = 'chan_websocket control format';
  try {
    const res = await get('/asterisk/config/dynamic/chan_websocket/global/global');
    if (res.status === 404) {
      return { name, status: 'fail', detail: `chan_websocket has no [global] object${version ? ` (Asterisk ${version})` : ''}: chan_websocket.conf needs [global] with type = global and control_message_format = json (22.8+/20.18+); a [general] section is ignored` };
    }
    if (!res.ok) return { name, status: 'warn', detail: `chan_websocket's configuration answered ${res.status}: cannot check control_message_format` };
    const fields = (await res.json()) as { attribute: string; value: string }[];
    const format = fields.find((f) => f.attribute === 'control_message_format')?.value;
    if (format === 'json') return { name, status: 'ok', detail: 'control_message_format = json' };
    return { name, status: 'fail', detail: `control_message_format is ${format ?? 'unset'}: set json in chan_websocket.conf [global] (barge-in cannot stop what the caller hears otherwise)` };
  } catch (e) {
    return { name, status: 'warn', detail: `could not read chan_websocket's configuration: ${(e as Error).message}` };
  }
}
