import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { availableParallelism, hostname } from 'node:os';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { parseCidrList } from '../util/cidr.js';
// Each default has one home, next to the code that uses it; a setting reads it from there.
import { sipGuardDefaults } from '../telephony/sip/guard.js';
import { tcpDefaults } from '../telephony/sip/stack.js';
import { sessionTimerDefaults } from '../telephony/sip/session-timer.js';
import { rtpDefaults } from '../telephony/rtp/session.js';
import { brainDefaults } from '../agent/brain.js';
import { smsDefaults } from '../sms/service.js';

/**
 * Process configuration: environment variables, optionally layered over a YAML file
 * (FRONTDESK_CONFIG). Every setting is declared once in `settings`, which drives parsing,
 * error messages (they name the variable) and `.env.example` (a test keeps them in step).
 */

const port = z.coerce.number().int().min(1).max(65535);
const bool = z
  .union([z.boolean(), z.enum(['true', 'false', '1', '0', 'yes', 'no'])])
  .transform((v) => v === true || v === 'true' || v === '1' || v === 'yes');

export const callDefaults = {
  /** Default simultaneous-call cap per CPU core (FRONTDESK_MAX_CALLS unset). */
  callsPerCore: 4,
} as const satisfies Record<string, number>;

export const settings = {
  DATABASE_URL: {
    path: 'databaseUrl',
    doc: 'Postgres server URL (postgres://user:pass@host:5432/db). Unset: embedded PGlite under FRONTDESK_DATA_DIR.',
    schema: z
      .string()
      .regex(/^postgres(ql)?:\/\/.+/, 'must be a postgres:// or postgresql:// URL')
      .optional(),
  },
  FRONTDESK_CONFIG: {
    path: 'configFile',
    doc: 'Optional YAML file with the same settings (nested keys, e.g. http.port); environment variables win.',
    schema: z.string().optional(),
  },
  FRONTDESK_HTTP_HOST: {
    path: 'http.host',
    doc: 'Address the HTTP server (webhooks, admin console, /health, /metrics) binds to.',
    schema: z.string().min(1).default('0.0.0.0'),
  },
  FRONTDESK_HTTP_PORT: {
    path: 'http.port',
    doc: 'HTTP port.',
    schema: port.default(8080),
  },
  FRONTDESK_HTTP_TRUST_PROXY: {
    path: 'http.trustProxy',
    doc: 'Comma-separated addresses/CIDRs of the reverse proxy in front (TLS): only from these is X-Forwarded-For believed, so login limits count the real client address.',
    schema: z.string().default('').transform((v) => v.split(',').map((x) => x.trim()).filter(Boolean)),
  },
  FRONTDESK_PUBLIC_URL: {
    path: 'http.publicUrl',
    doc: 'Public base URL providers call for webhooks (signature checks use it). Default: http://localhost:PORT.',
    schema: z.url().optional(),
  },
  FRONTDESK_TELEPHONY: {
    path: 'telephony',
    doc: 'Which telephony backend runs: sip (built-in SIP endpoint), asterisk, freeswitch, or none.',
    schema: z.enum(['sip', 'asterisk', 'freeswitch', 'none']).default('sip'),
  },
  FRONTDESK_SIP_BIND: {
    path: 'sip.bind',
    doc: 'Address the built-in SIP endpoint binds to (UDP and TCP).',
    schema: z.string().min(1).default('0.0.0.0'),
  },
  FRONTDESK_SIP_PORT: {
    path: 'sip.port',
    doc: 'SIP port (UDP and TCP).',
    schema: port.default(5060),
  },
  FRONTDESK_SIP_TRUSTED: {
    path: 'sip.trusted',
    doc: 'Comma-separated CIDRs allowed to send INVITEs (trunk, desk phones). Loopback is always trusted.',
    schema: z
      .union([z.string(), z.array(z.string())])
      .default('')
      .transform((v, ctx) => {
        const list = Array.isArray(v) ? v : v.split(',');
        try {
          return parseCidrList(list);
        } catch (e) {
          ctx.addIssue({ code: 'custom', message: (e as Error).message });
          return z.NEVER;
        }
      }),
  },
  FRONTDESK_SIP_ADVERTISE: {
    path: 'sip.advertise',
    doc: 'Address put in SIP Contact/Via and SDP (the public or LAN address peers reach). Default: the bind address, or the first LAN address.',
    schema: z.string().min(1).optional(),
  },
  FRONTDESK_SIP_USERS: {
    path: 'sip.users',
    doc: 'Desk phones allowed from outside the trusted networks with a digest password: "101:secret,102:secret".',
    schema: z
      .string()
      .default('')
      .transform((v, ctx) => {
        const out: Record<string, string> = {};
        for (const [n, item] of v.split(',').map((x) => x.trim()).filter(Boolean).entries()) {
          const i = item.indexOf(':');
          if (i <= 0 || i === item.length - 1) {
            // Never the item itself: it may be a password missing its user.
            ctx.addIssue({ code: 'custom', message: `entry ${n + 1} is not user:password` });
            return z.NEVER;
          }
          out[item.slice(0, i)] = item.slice(i + 1);
        }
        return out;
      }),
  },
  FRONTDESK_SIP_TRUNK: {
    path: 'sip.trunk',
    doc: 'The SIP trunk for outbound calls (and registration): host[:port][;transport=tcp], e.g. sip.telnyx.com.',
    schema: z
      .string()
      .regex(/^[A-Za-z0-9.\-]+(:\d{1,5})?(;transport=(udp|tcp))?$/i, 'must be host[:port][;transport=udp|tcp]')
      .optional(),
  },
  FRONTDESK_SIP_TRUNK_USER: {
    path: 'sip.trunkUser',
    doc: 'Username of a credential trunk (Telnyx/SignalWire credential connection); unset for IP-authenticated trunks.',
    schema: z.string().min(1).optional(),
  },
  FRONTDESK_SIP_TRUNK_PASSWORD: {
    path: 'sip.trunkPassword',
    doc: 'Password of a credential trunk.',
    schema: z.string().min(1).optional(),
  },
  FRONTDESK_SIP_REGISTER: {
    path: 'sip.register',
    doc: 'REGISTER with the trunk (credential trunks). Default: on when FRONTDESK_SIP_TRUNK_USER is set.',
    schema: bool.optional(),
  },
  FRONTDESK_SIP_CALLER_ID: {
    path: 'sip.callerId',
    doc: 'Caller ID (E.164) for outbound calls; the context number is used when a call has one.',
    schema: z.string().regex(/^\+[1-9]\d{6,14}$/, 'must be an E.164 number like +15125550100').optional(),
  },
  FRONTDESK_SIP_GUARD_MAX_FAILURES: {
    path: 'sip.guard.maxFailures',
    doc: 'Authentication failures (wrong digest, INVITEs from untrusted networks) from one address within FRONTDESK_SIP_GUARD_WINDOW_S that block it.',
    schema: z.coerce.number().int().min(1).max(1000).default(sipGuardDefaults.maxFailures),
  },
  FRONTDESK_SIP_GUARD_WINDOW_S: {
    path: 'sip.guard.windowS',
    doc: 'Seconds over which authentication failures from one address are counted.',
    schema: z.coerce.number().int().min(1).max(86_400).default(sipGuardDefaults.windowMs / 1000),
  },
  FRONTDESK_SIP_GUARD_BLOCK_S: {
    path: 'sip.guard.blockS',
    doc: 'Seconds a blocked address is ignored (its SIP requests get no answer).',
    schema: z.coerce.number().int().min(1).max(7 * 86_400).default(sipGuardDefaults.blockMs / 1000),
  },
  FRONTDESK_SIP_TCP_IDLE_S: {
    path: 'sip.tcp.idleS',
    doc: 'Seconds an inbound SIP-over-TCP connection may sit idle before it is closed (never while a call uses it).',
    schema: z.coerce.number().int().min(5).max(86_400).default(tcpDefaults.idleMs / 1000),
  },
  FRONTDESK_SIP_TCP_MAX_PER_SOURCE: {
    path: 'sip.tcp.maxPerSource',
    doc: 'Inbound SIP-over-TCP connections at once from one address.',
    schema: z.coerce.number().int().min(1).max(10_000).default(tcpDefaults.maxPerSource),
  },
  FRONTDESK_SIP_TCP_MAX_TOTAL: {
    path: 'sip.tcp.maxTotal',
    doc: 'Inbound SIP-over-TCP connections at once in all.',
    schema: z.coerce.number().int().min(1).max(100_000).default(tcpDefaults.maxTotal),
  },
  FRONTDESK_SIP_SESSION_EXPIRES_S: {
    path: 'sip.sessionTimer.requestS',
    doc: 'Session-timer interval (RFC 4028 Session-Expires) asked for on our own calls, in seconds.',
    schema: z.coerce.number().int().min(90).max(86_400).default(sessionTimerDefaults.requestSeconds),
  },
  FRONTDESK_SIP_MIN_SE_S: {
    path: 'sip.sessionTimer.minS',
    doc: 'Smallest session-timer interval (Min-SE) accepted from a peer, in seconds; shorter ones get 422 (RFC 4028 floor: 90).',
    schema: z.coerce.number().int().min(90).max(86_400).default(sessionTimerDefaults.minSeconds),
  },
  FRONTDESK_DIAL_INTERNATIONAL: {
    path: 'dial.international',
    doc: 'Allow outbound calls to numbers outside the domestic country code (+1 by default).',
    schema: bool.default(false),
  },
  FRONTDESK_DIAL_PREMIUM: {
    path: 'dial.premium',
    doc: 'Allow outbound calls and transfers to premium-rate and shared-cost numbers (+1 900, +44 9…).',
    schema: bool.default(false),
  },
  FRONTDESK_DIAL_COUNTRY: {
    path: 'dial.country',
    doc: 'The trunk\'s home country (ISO 3166 code): local numbers are read in it, numbers elsewhere (other NANP countries too) are international.',
    schema: z.string().regex(/^[A-Z]{2}$/, 'must be a two-letter country code like US').default('US'),
  },
  FRONTDESK_DIAL_EXTENSIONS: {
    path: 'dial.extensions',
    doc: 'Regular expression a desk-phone extension must match; emergency and N11 numbers are refused even if they match.',
    schema: z.string().default('^[1-9][0-9]{2,3}$').refine((v) => {
      try {
        new RegExp(v);
        return true;
      } catch {
        return false;
      }
    }, 'must be a regular expression'),
  },
  FRONTDESK_MEDIA_TIMEOUT_S: {
    path: 'rtp.mediaTimeoutS',
    doc: 'Hang up a call after this many seconds without RTP from the far end (0 disables).',
    schema: z.coerce.number().int().min(0).max(3600).default(rtpDefaults.mediaTimeoutMs / 1000),
  },
  FRONTDESK_MAX_CALLS: {
    path: 'calls.max',
    doc: 'Simultaneous calls before new ones get 503 + Retry-After (the carrier tries again or fails over). Default: 4 per CPU core.',
    schema: z.coerce.number().int().min(1).max(10_000).optional(),
  },
  FRONTDESK_NODE_ID: {
    path: 'node.id',
    doc: 'This node\'s name in the cluster (nodes sharing one DATABASE_URL). Default: the host name; two nodes on one host need their own.',
    schema: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,62}$/, 'letters, digits and . _ : - (up to 63)').optional(),
  },
  FRONTDESK_NODE_HEARTBEAT_MS: {
    path: 'node.heartbeatMs',
    doc: 'How often this node writes its heartbeat (and checks for nodes that stopped).',
    schema: z.coerce.number().int().min(100).max(60_000).default(2000),
  },
  FRONTDESK_NODE_LAPSE_MS: {
    path: 'node.lapseMs',
    doc: 'A node whose heartbeat is older than this is dead: the survivors end its calls as interrupted. Keep it several heartbeats long.',
    schema: z.coerce.number().int().min(300).max(600_000).default(10_000),
  },
  FRONTDESK_DRAIN_TIMEOUT_S: {
    path: 'node.drainTimeoutS',
    doc: 'On SIGTERM or `frontdesk drain`: new calls are refused (OPTIONS and INVITE get 503) and calls in progress get this long to finish before the node exits anyway.',
    schema: z.coerce.number().int().min(0).max(86_400).default(300),
  },
  FRONTDESK_ARI_URL: {
    path: 'asterisk.url',
    doc: 'Asterisk ARI base URL (FRONTDESK_TELEPHONY=asterisk), e.g. http://127.0.0.1:8088.',
    schema: z.url().optional(),
  },
  FRONTDESK_ARI_USER: {
    path: 'asterisk.user',
    doc: 'ARI user (asterisk/ari.conf).',
    schema: z.string().min(1).default('frontdesk'),
  },
  FRONTDESK_ARI_PASSWORD: {
    path: 'asterisk.password',
    doc: 'ARI password (asterisk/ari.conf).',
    schema: z.string().min(1).optional(),
  },
  FRONTDESK_ARI_APP: {
    path: 'asterisk.app',
    doc: 'Stasis application name the dialplan sends calls to.',
    schema: z.string().regex(/^[A-Za-z0-9_-]+$/, 'letters, digits, _ and -').default('frontdesk'),
  },
  FRONTDESK_ASTERISK_MEDIA_ADDRESS: {
    path: 'asterisk.mediaAddress',
    doc: 'Address Asterisk sends externalMedia RTP to (this host as Asterisk sees it).',
    schema: z.string().min(1).default('127.0.0.1'),
  },
  FRONTDESK_ASTERISK_MEDIA: {
    path: 'asterisk.media',
    doc: 'externalMedia transport: rtp (any Asterisk 16+, frontdesk paces audio) or websocket (chan_websocket, Asterisk 22.8+/20.18+, Asterisk paces audio).',
    schema: z.enum(['rtp', 'websocket']).default('rtp'),
  },
  FRONTDESK_ASTERISK_TRUNK_ENDPOINT: {
    path: 'asterisk.trunkEndpoint',
    doc: 'Dial string for outbound calls and transfers to numbers; {number} is the E.164 number.',
    schema: z.string().includes('{number}', { message: 'must contain {number}' }).default('PJSIP/{number}@trunk'),
  },
  FRONTDESK_ASTERISK_EXTENSION_ENDPOINT: {
    path: 'asterisk.extensionEndpoint',
    doc: 'Dial string for desk-phone extensions; {ext} is the extension.',
    schema: z.string().includes('{ext}', { message: 'must contain {ext}' }).default('PJSIP/{ext}'),
  },
  FRONTDESK_DRACHTIO_URL: {
    path: 'freeswitch.drachtio',
    doc: 'drachtio-server admin address for FRONTDESK_TELEPHONY=freeswitch: host:port (default 127.0.0.1:9022).',
    schema: z.string().regex(/^[A-Za-z0-9.\-]+:\d{1,5}$/, 'must be host:port').default('127.0.0.1:9022'),
  },
  FRONTDESK_DRACHTIO_SECRET: {
    path: 'freeswitch.drachtioSecret',
    doc: 'drachtio-server admin secret (freeswitch/drachtio.conf.xml).',
    schema: z.string().min(1).optional(),
  },
  FRONTDESK_FREESWITCH_ESL: {
    path: 'freeswitch.esl',
    doc: 'FreeSWITCH event socket: host:port (default 127.0.0.1:8021).',
    schema: z.string().regex(/^[A-Za-z0-9.\-]+:\d{1,5}$/, 'must be host:port').default('127.0.0.1:8021'),
  },
  FRONTDESK_FREESWITCH_ESL_SECRET: {
    path: 'freeswitch.eslSecret',
    doc: 'FreeSWITCH event socket password (freeswitch/event_socket.conf.xml).',
    schema: z.string().min(1).optional(),
  },
  FRONTDESK_FORK_URL: {
    path: 'freeswitch.forkUrl',
    doc: 'ws:// URL FreeSWITCH mod_audio_fork connects to, as FreeSWITCH reaches this machine (frontdesk serves it at /audio-fork on FRONTDESK_HTTP_HOST:FRONTDESK_HTTP_PORT).',
    schema: z.string().regex(/^wss?:\/\/.+/, 'must be a ws:// or wss:// URL').default('ws://127.0.0.1:8080/audio-fork'),
  },
  FRONTDESK_FORK_STREAMING: {
    path: 'freeswitch.streaming',
    doc: 'mod_audio_fork bidirectional streaming; must be true (the playAudio mode was removed: it played nothing).',
    schema: bool.default(true).refine((v) => v, 'must be true: only bidirectional streaming is supported (jambonz freeswitch-modules 1.2.32 or newer); the playAudio mode played nothing and was removed'),
  },
  FRONTDESK_FREESWITCH_CALLBACK_LISTEN: {
    path: 'freeswitch.callbackListen',
    doc: 'host or host:port where FreeSWITCH connects back for each call (outbound ESL from the mrf dialplan). Default: the local address of the ESL connection, any free port.',
    schema: z.string().regex(/^[A-Za-z0-9.\-:\[\]]+$/, 'must be host or host:port').optional(),
  },
  FRONTDESK_FREESWITCH_CALLBACK_ADVERTISE: {
    path: 'freeswitch.callbackAdvertise',
    doc: 'host or host:port FreeSWITCH is told to connect back to, when it differs from the listen address (FreeSWITCH in a container, NAT). Default: the listen address and port.',
    schema: z.string().regex(/^[A-Za-z0-9.\-:\[\]]+$/, 'must be host or host:port').optional(),
  },
  FRONTDESK_FREESWITCH_TRUNK_URI: {
    path: 'freeswitch.trunkUri',
    doc: 'SIP URI for outbound calls and transfers to numbers; {number} is the E.164 number.',
    schema: z.string().includes('{number}', { message: 'must contain {number}' }).default('sip:{number}@sip.telnyx.com'),
  },
  FRONTDESK_FREESWITCH_EXTENSION_URI: {
    path: 'freeswitch.extensionUri',
    doc: 'SIP URI for desk-phone extensions; {ext} is the extension.',
    schema: z.string().includes('{ext}', { message: 'must contain {ext}' }).default('sip:{ext}@127.0.0.1'),
  },
  FRONTDESK_RTP_PORT_MIN: {
    path: 'rtp.portMin',
    doc: 'Lowest UDP port for RTP media.',
    schema: port.default(20000),
  },
  FRONTDESK_RTP_PORT_MAX: {
    path: 'rtp.portMax',
    doc: 'Highest UDP port for RTP media.',
    schema: port.default(20999),
  },
  FRONTDESK_DATA_DIR: {
    path: 'dataDir',
    doc: 'Where the embedded database, recordings and voicemails are kept.',
    schema: z.string().min(1).default('./data'),
  },
  FRONTDESK_ANSWER_AUDIO_RETENTION_DAYS: {
    path: 'answerAudioRetentionDays',
    doc: 'Days the caller\'s own audio of an unsure address or name (recordings/<call>-address-N.wav, for the owner to check) is kept after its call; 0: kept until deleted by hand.',
    schema: z.coerce.number().int().min(0).max(3650).default(30),
  },
  FRONTDESK_MODELS_DIR: {
    path: 'modelsDir',
    doc: 'Where speech and language models are read from (npm run models fills it).',
    schema: z.string().min(1).default('./models'),
  },
  FRONTDESK_BUILT_MODELS_DIR: {
    path: 'builtModelsDir',
    doc: 'Where models built on this machine from Debian packages are kept (the telephone-adapted speech recognizer, built once on first start). Default: models/ under FRONTDESK_DATA_DIR.',
    schema: z.string().min(1).optional(),
  },
  FRONTDESK_LLM_MODEL: {
    path: 'llmModel',
    doc: 'A chat GGUF run in-process by node-llama-cpp on the CPU (its own chat template). Default: the pinned GGUF under FRONTDESK_MODELS_DIR/llm (npm run models), Qwen3-4B before Qwen3-1.7B; none: the guided-flow engine answers everything.',
    schema: z.string().min(1).optional(),
  },
  FRONTDESK_LLM_URL: {
    path: 'llm.url',
    doc: 'An OpenAI-compatible server instead of the in-process model (llama-server, vLLM, Ollama), its API base ending in /v1, e.g. http://gpu-box:8080/v1. One server can serve many frontdesk nodes.',
    schema: z.url().optional(),
  },
  FRONTDESK_LLM_API_KEY: {
    path: 'llm.apiKey',
    doc: 'Bearer token for FRONTDESK_LLM_URL, if the server wants one.',
    schema: z.string().min(1).optional(),
  },
  FRONTDESK_LLM_SERVER_MODEL: {
    path: 'llm.model',
    doc: 'Model name to ask FRONTDESK_LLM_URL for (Ollama needs one, e.g. qwen3:1.7b); default: the first model the server lists.',
    schema: z.string().min(1).optional(),
  },
  FRONTDESK_STT_MODEL: {
    path: 'sttModel',
    doc: 'A folder holding a streaming transducer for sherpa-onnx (encoder*.onnx, decoder*.onnx, joiner*.onnx, tokens.txt). Default: the first such folder under FRONTDESK_MODELS_DIR/stt; none: the offline floor (pocketsphinx).',
    schema: z.string().min(1).optional(),
  },
  FRONTDESK_TTS_MODEL: {
    path: 'ttsModel',
    doc: 'A Piper voice (.onnx with tokens.txt beside it) for sherpa-onnx. Default: the first voice under FRONTDESK_MODELS_DIR/tts; none: the offline floor (flite).',
    schema: z.string().min(1).optional(),
  },
  FRONTDESK_TURN_MODEL: {
    path: 'turnModel',
    doc: 'A Smart Turn v3 end-of-turn model (.onnx). Default: the pinned one under FRONTDESK_MODELS_DIR/turn when `npm run models` fetched it; none: the endpointing delays alone decide when the caller has finished.',
    schema: z.string().min(1).optional(),
  },
  FRONTDESK_LLM_UNDERSTANDS: {
    path: 'llmUnderstands',
    doc: 'With an LLM, it reads each transactional turn (intent and slots as JSON against the business\'s schema) for the guided flow, which still acts through its validated tools; false: the rule NLU reads them (lower latency on slow machines). A model whose readings miss their budget 3 times in a row is not asked (logged once) and retried every 2 minutes.',
    schema: bool.default(brainDefaults.understand),
  },
  FRONTDESK_LLM_MAX_TOKENS: {
    path: 'llmMaxTokens',
    doc: 'Longest LLM reply in tokens (a spoken turn is a sentence or two).',
    schema: z.coerce.number().int().min(8).max(512).default(brainDefaults.maxTokens),
  },
  FRONTDESK_LLM_FIRST_TOKEN_MS: {
    path: 'llmFirstTokenMs',
    doc: 'How long a caller waits for the LLM\'s first word before the guided flow answers instead, ms. A slow machine may wait longer for the LLM\'s better answer; the caller hears silence meanwhile.',
    schema: z.coerce.number().int().min(200).max(60_000).default(brainDefaults.firstTokenTimeoutMs),
  },
  FRONTDESK_LLM_THREADS: {
    path: 'llmThreads',
    doc: 'CPU threads the in-process LLM computes on; 0: all cores but one, at most 4 (1 on 2 cores). llama.cpp\'s threads wait for each other by spinning, so on a machine whose cores are also busy with calls, fewer threads than cores keep replies from stalling.',
    schema: z.coerce.number().int().min(0).max(256).default(0),
  },
  FRONTDESK_LOG_LEVEL: {
    path: 'logLevel',
    doc: 'pino log level: fatal, error, warn, info, debug, trace or silent.',
    schema: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  },
  FRONTDESK_SEED_DEMO: {
    path: 'seedDemo',
    doc: 'Seed the demo cleaning-business context on first start when no context exists.',
    schema: bool.default(true),
  },
  FRONTDESK_TELNYX_API_KEY: {
    path: 'sms.telnyx.apiKey',
    doc: 'Telnyx API key (SMS sending). Set with FRONTDESK_TELNYX_PUBLIC_KEY to enable POST /webhooks/sms/telnyx.',
    schema: z.string().min(1).optional(),
  },
  FRONTDESK_TELNYX_PUBLIC_KEY: {
    path: 'sms.telnyx.publicKey',
    doc: 'Telnyx webhook public key (base64, from the portal) for Ed25519 signature checks.',
    schema: z.string().regex(/^[A-Za-z0-9+/]{43}=$/, 'must be the 32-byte base64 key from the Telnyx portal').optional(),
  },
  FRONTDESK_TELNYX_API_URL: {
    path: 'sms.telnyx.apiUrl',
    doc: 'Telnyx API base URL (default https://api.telnyx.com/v2).',
    schema: z.url().optional(),
  },
  FRONTDESK_SIGNALWIRE_SPACE_URL: {
    path: 'sms.signalwire.spaceUrl',
    doc: 'SignalWire space, e.g. https://example.signalwire.com. Enables POST /webhooks/sms/signalwire.',
    schema: z.url().optional(),
  },
  FRONTDESK_SIGNALWIRE_PROJECT_ID: {
    path: 'sms.signalwire.projectId',
    doc: 'SignalWire project ID.',
    schema: z.string().min(1).optional(),
  },
  FRONTDESK_SIGNALWIRE_API_TOKEN: {
    path: 'sms.signalwire.apiToken',
    doc: 'SignalWire API token (sending).',
    schema: z.string().min(1).optional(),
  },
  FRONTDESK_SIGNALWIRE_SIGNING_KEY: {
    path: 'sms.signalwire.signingKey',
    doc: 'SignalWire signing key (webhook signatures); kept apart from the API token.',
    schema: z.string().min(1).optional(),
  },
  FRONTDESK_TWILIO_ACCOUNT_SID: {
    path: 'sms.twilio.accountSid',
    doc: 'Twilio account SID. Enables POST /webhooks/sms/twilio.',
    schema: z.string().min(1).optional(),
  },
  FRONTDESK_TWILIO_AUTH_TOKEN: {
    path: 'sms.twilio.authToken',
    doc: 'Twilio auth token (sending and webhook signatures).',
    schema: z.string().min(1).optional(),
  },
  FRONTDESK_TWILIO_API_URL: {
    path: 'sms.twilio.apiUrl',
    doc: 'Twilio API base URL (default https://api.twilio.com; a regional edge such as https://api.dublin.ie1.twilio.com).',
    schema: z.url().optional(),
  },
  FRONTDESK_SMS_RATE_PER_S: {
    path: 'sms.ratePerSecond',
    doc: 'Outbound texts per second across all numbers.',
    schema: z.coerce.number().int().min(1).max(1000).default(smsDefaults.globalPerSecond),
  },
  FRONTDESK_SMTP_URL: {
    path: 'smtp.url',
    doc: 'SMTP server for e-mailed owner alerts (smtp://user:pass@host:587). Unset: e-mail alerts stay queued.',
    schema: z
      .string()
      .regex(/^smtps?:\/\/.+/, 'must be an smtp:// or smtps:// URL')
      .optional(),
  },
  FRONTDESK_SMTP_ALLOW_PLAIN: {
    path: 'smtp.allowPlain',
    doc: 'Send through an smtp:// server that does not offer STARTTLS (credentials and mail in clear). Off: such a server is refused.',
    schema: bool.default(false),
  },
  FRONTDESK_SMTP_FROM: {
    path: 'smtp.from',
    doc: 'From address of e-mailed owner alerts.',
    schema: z.string().default('frontdesk@localhost'),
  },
} as const satisfies Record<string, { path: string; doc: string; schema: z.ZodType }>;

export type SettingName = keyof typeof settings;
type Out<K extends SettingName> = z.output<(typeof settings)[K]['schema']>;

export interface Config {
  databaseUrl: Out<'DATABASE_URL'>;
  configFile: Out<'FRONTDESK_CONFIG'>;
  http: { host: string; port: number; publicUrl: string | undefined; trustProxy: string[] };
  telephony: Out<'FRONTDESK_TELEPHONY'>;
  sip: {
    bind: string;
    port: number;
    trusted: Out<'FRONTDESK_SIP_TRUSTED'>;
    advertise: string | undefined;
    users: Record<string, string>;
    trunk: string | undefined;
    trunkUser: string | undefined;
    trunkPassword: string | undefined;
    register: boolean | undefined;
    callerId: string | undefined;
    guard: { maxFailures: number; windowS: number; blockS: number };
    tcp: { idleS: number; maxPerSource: number; maxTotal: number };
    sessionTimer: { requestS: number; minS: number };
  };
  dial: { international: boolean; premium: boolean; country: string; extensions: string };
  freeswitch: {
    drachtio: string;
    drachtioSecret: string | undefined;
    esl: string;
    eslSecret: string | undefined;
    forkUrl: string;
    streaming: boolean;
    callbackListen: string | undefined;
    callbackAdvertise: string | undefined;
    trunkUri: string;
    extensionUri: string;
  };
  asterisk: {
    url: string | undefined;
    user: string;
    password: string | undefined;
    app: string;
    mediaAddress: string;
    media: 'rtp' | 'websocket';
    trunkEndpoint: string;
    extensionEndpoint: string;
  };
  rtp: { portMin: number; portMax: number; mediaTimeoutS: number };
  /** This process in the cluster; `id` is filled in from the host name when unset. */
  node: { id: string; heartbeatMs: number; lapseMs: number; drainTimeoutS: number };
  /** Admission control; `max` is filled in from the machine when unset. */
  calls: { max: number };
  dataDir: string;
  answerAudioRetentionDays: number;
  modelsDir: string;
  builtModelsDir: string;
  llmModel: string | undefined;
  /** An OpenAI-compatible server (FRONTDESK_LLM_URL) instead of the in-process model. */
  llm?: { url?: string; apiKey?: string; model?: string };
  sttModel: string | undefined;
  ttsModel: string | undefined;
  turnModel: string | undefined;
  llmMaxTokens: number;
  llmUnderstands: boolean;
  llmThreads: number;
  llmFirstTokenMs: number;
  logLevel: Out<'FRONTDESK_LOG_LEVEL'>;
  seedDemo: boolean;
  smtp: { url: string | undefined; from: string; allowPlain: boolean };
  sms: {
    telnyx?: { apiKey?: string; publicKey?: string; apiUrl?: string };
    signalwire?: { spaceUrl?: string; projectId?: string; apiToken?: string; signingKey?: string };
    twilio?: { accountSid?: string; authToken?: string; apiUrl?: string };
    ratePerSecond: number;
  };
}

export class ConfigError extends Error {
  constructor(public readonly problems: string[]) {
    super(`Invalid configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
  }
}

function getPath(obj: unknown, path: string): unknown {
  let cur: unknown = obj;
  for (const key of path.split('.')) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[key];
  }
  return cur;
}

function setPath(obj: Record<string, unknown>, path: string, value: unknown): void {
  const keys = path.split('.');
  let cur = obj;
  for (const key of keys.slice(0, -1)) {
    cur[key] ??= {};
    cur = cur[key] as Record<string, unknown>;
  }
  cur[keys[keys.length - 1]!] = value;
}

// Settings whose value is (or may contain) a secret: a config error names them, never shows them.
const SECRET = /PASSWORD|SECRET|TOKEN|_KEY$|AUTH|SMTP_URL|DATABASE_URL|SIP_USERS|_SID$/;

function describe(value: unknown): string {
  const s = typeof value === 'string' ? JSON.stringify(value) : JSON.stringify(value);
  return s && s.length > 60 ? `${s.slice(0, 57)}...` : String(s);
}

/** Reads the configuration; throws ConfigError naming every wrong variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const problems: string[] = [];
  let file: unknown = {};
  const fileName = env.FRONTDESK_CONFIG;
  if (fileName) {
    if (!existsSync(fileName)) {
      throw new ConfigError([`FRONTDESK_CONFIG: file ${fileName} does not exist`]);
    }
    try {
      file = parseYaml(readFileSync(fileName, 'utf8')) ?? {};
    } catch (e) {
      throw new ConfigError([`FRONTDESK_CONFIG: ${fileName} is not valid YAML: ${(e as Error).message}`]);
    }
  }
  const out: Record<string, unknown> = {};
  for (const [name, s] of Object.entries(settings) as [SettingName, (typeof settings)[SettingName]][]) {
    const fromEnv = env[name];
    const raw = fromEnv !== undefined && fromEnv !== '' ? fromEnv : getPath(file, s.path);
    const where = fromEnv !== undefined && fromEnv !== '' ? name : `${name} (${s.path} in ${fileName})`;
    const parsed = s.schema.safeParse(raw);
    if (parsed.success) setPath(out, s.path, parsed.data);
    else problems.push(`${where}: ${parsed.error.issues.map((i) => i.message).join('; ')}${SECRET.test(name) ? '' : ` (got ${describe(raw)})`}`);
  }
  const cfg = out as unknown as Config;
  cfg.builtModelsDir ??= join(cfg.dataDir ?? './data', 'models');
  // Each call runs VAD, a recognizer and TTS on this machine: size the cap to its cores.
  cfg.calls = { max: cfg.calls?.max ?? availableParallelism() * callDefaults.callsPerCore };
  if (cfg.node) cfg.node.id ??= hostname().replace(/[^A-Za-z0-9._:-]/g, '-').slice(0, 63) || 'frontdesk';
  if (cfg.node && cfg.node.lapseMs < 2 * cfg.node.heartbeatMs) problems.push(`FRONTDESK_NODE_LAPSE_MS: ${cfg.node.lapseMs} must be at least two heartbeats (FRONTDESK_NODE_HEARTBEAT_MS ${cfg.node.heartbeatMs}), or a slow beat would look like a dead node`);
  const pairs: [string, unknown, string, unknown][] = [
    ['FRONTDESK_TELNYX_API_KEY', cfg.sms?.telnyx?.apiKey, 'FRONTDESK_TELNYX_PUBLIC_KEY', cfg.sms?.telnyx?.publicKey],
    ['FRONTDESK_SIGNALWIRE_SPACE_URL', cfg.sms?.signalwire?.spaceUrl, 'FRONTDESK_SIGNALWIRE_SIGNING_KEY', cfg.sms?.signalwire?.signingKey],
    ['FRONTDESK_SIGNALWIRE_SPACE_URL', cfg.sms?.signalwire?.spaceUrl, 'FRONTDESK_SIGNALWIRE_PROJECT_ID', cfg.sms?.signalwire?.projectId],
    ['FRONTDESK_SIGNALWIRE_SPACE_URL', cfg.sms?.signalwire?.spaceUrl, 'FRONTDESK_SIGNALWIRE_API_TOKEN', cfg.sms?.signalwire?.apiToken],
    ['FRONTDESK_TWILIO_ACCOUNT_SID', cfg.sms?.twilio?.accountSid, 'FRONTDESK_TWILIO_AUTH_TOKEN', cfg.sms?.twilio?.authToken],
  ];
  for (const [a, av, b, bv] of pairs) {
    if (!!av !== !!bv) problems.push(`${av ? b : a}: needed together with ${av ? a : b}`);
  }
  if (cfg.llm?.url && cfg.llmModel) problems.push('FRONTDESK_LLM_URL: set FRONTDESK_LLM_URL (a server) or FRONTDESK_LLM_MODEL (a local GGUF), not both');
  if (!cfg.llm?.url && (cfg.llm?.apiKey || cfg.llm?.model)) problems.push(`${cfg.llm?.apiKey ? 'FRONTDESK_LLM_API_KEY' : 'FRONTDESK_LLM_SERVER_MODEL'}: needed together with FRONTDESK_LLM_URL`);
  if (cfg.telephony === 'freeswitch' && (!cfg.freeswitch?.drachtioSecret || !cfg.freeswitch.eslSecret)) {
    problems.push('FRONTDESK_DRACHTIO_SECRET: FRONTDESK_TELEPHONY=freeswitch needs FRONTDESK_DRACHTIO_SECRET and FRONTDESK_FREESWITCH_ESL_SECRET');
  }
  if (cfg.telephony === 'asterisk' && (!cfg.asterisk?.url || !cfg.asterisk.password)) {
    problems.push('FRONTDESK_ARI_URL: FRONTDESK_TELEPHONY=asterisk needs FRONTDESK_ARI_URL and FRONTDESK_ARI_PASSWORD');
  }
  if (problems.length === 0 && cfg.sip.sessionTimer.requestS < cfg.sip.sessionTimer.minS) {
    problems.push(`FRONTDESK_SIP_SESSION_EXPIRES_S: ${cfg.sip.sessionTimer.requestS} is below FRONTDESK_SIP_MIN_SE_S ${cfg.sip.sessionTimer.minS}`);
  }
  if (problems.length === 0 && cfg.rtp.portMin > cfg.rtp.portMax) {
    problems.push(
      `FRONTDESK_RTP_PORT_MIN: ${cfg.rtp.portMin} is above FRONTDESK_RTP_PORT_MAX ${cfg.rtp.portMax}`,
    );
  }
  if (problems.length) throw new ConfigError(problems);
  cfg.http.publicUrl ??= `http://localhost:${cfg.http.port}`;
  return cfg;
}
