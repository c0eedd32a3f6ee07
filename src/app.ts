import type { FastifyInstance } from 'fastify';
import type { Config } from './config/index.js';
import type { Logger } from './util/logger.js';
import { openStore, type Store } from './store/db.js';
import { migrateToLatest } from './store/migrate.js';
import { ContextService } from './business/context/service.js';
import { createBusiness, type Business } from './business/index.js';
import { OutboxWorker, type ChannelSender, type Channel } from './business/outbox.js';
import { createEmailSender } from './business/email.js';
import { demoContext } from './business/context/demo.js';
import { buildHttpServer } from './http/server.js';
import type { LiveCalls } from './http/admin/routes.js';
import { createMetrics, type Metrics } from './http/metrics.js';
import { version } from './version.js';
import { createTelephony, dialPolicyFromConfig, type Call, type Telephony } from './telephony/index.js';
import { FsTelephony } from './telephony/freeswitch/index.js';
import { SipEndpoint } from './telephony/sip/endpoint.js';
import { audit } from './store/audit.js';
import { createSmsProviders, SmsService, INBOUND_QUEUE } from './sms/index.js';
import { JobRunner } from './store/jobs.js';
import { pruneAnswerAudio } from './business/answer-audio.js';
import { join } from 'node:path';
import { createSpeech, type SpeechSet } from './speech/index.js';
import { placePurposeCall } from './agent/voice/outbound.js';
import type { TurnOptionsInput } from './agent/turns/options.js';
import { toE164 } from './util/phone.js';
import { recordQualityOnEnd } from './agent/call/quality.js';
import { handleInboundCall, type CallDeps } from './agent/inbound.js';
import { Brain } from './agent/brain.js';
import { AgentTools } from './agent/tools.js';
import { createCallAlertSender } from './agent/call/alert-call.js';
import { startCliEndpoint, type CliEndpoint } from './http/cli-endpoint.js';
import { summarizeStoredCall } from './agent/call-summary.js';
import { clickToCall, ConnectError } from './agent/call/connect.js';
import { checkDial } from './business/dial-policy.js';
import { BrowserLine } from './telephony/browser/index.js';
import { acceptTestCall } from './agent/call/test-call.js';
import { NodeRegistry, listNodes } from './cluster/registry.js';
import { ControlChannel, type ControlRequest } from './cluster/control.js';
import { ownerTarget } from './http/admin/routes.js';

/** The running process: store, HTTP and (as they land) telephony, SMS and agent workers. */
export interface App {
  config: Config;
  store: Store;
  http: FastifyInstance;
  metrics: Metrics;
  contexts: ContextService;
  business: Business;
  outbox: OutboxWorker;
  telephony: Telephony | undefined;
  sms: SmsService | undefined;
  /** Address the HTTP server listens on, once started. */
  url: string | undefined;
  speech: SpeechSet;
  /** Resolves when speech recognition is loaded (its model may be built on the first start). */
  speechReady: Promise<void>;
  /** This process in the cluster: its row in `nodes`, heartbeat and reaping of dead nodes. */
  node: NodeRegistry;
  /** Set by `frontdesk start`: someone asked this node to drain (frontdesk drain on any machine). */
  onDrainRequested: (() => void) | undefined;
  start(): Promise<void>;
  /**
   * Stops taking calls (OPTIONS and INVITE get 503, the node's row says `draining`) and resolves
   * when the calls in progress have ended or `limitMs` has passed; stop() follows.
   */
  drain(limitMs: number): Promise<{ left: number }>;
  stop(): Promise<void>;
}

export async function openMigratedStore(config: Config, logger: Logger): Promise<Store> {
  const store = await openStore({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, logger });
  try {
    const done = await migrateToLatest(store.db);
    for (const m of done) logger.info({ migration: m.migrationName }, 'migration applied');
  } catch (e) {
    await store.close();
    throw e;
  }
  return store;
}

/** Seeds the demo cleaning business when the store has no context yet. */
export async function seedDemoIfEmpty(contexts: ContextService, logger: Logger): Promise<boolean> {
  if ((await contexts.list()).length > 0) return false;
  try {
    await contexts.save(demoContext, 'system', 'demo context seeded on first start');
  } catch (e) {
    // Two nodes starting together on one database: the other one seeded it first.
    if ((await contexts.list()).length > 0) return false;
    throw e;
  }
  logger.info({ context: demoContext.name }, 'seeded the demo context');
  return true;
}

export interface AppOptions {
  /** The business clock (tests inject one); default the wall clock. */
  now?: () => Date;
  /** Turn-taking timings for inbound calls; tests that decide by events set the waits out of the way. */
  turn?: TurnOptionsInput;
}

export async function createApp(config: Config, logger: Logger, opts: AppOptions = {}): Promise<App> {
  const store = await openMigratedStore(config, logger);
  logger.info({ dialect: store.dialect, location: store.location }, 'store ready');
  const business = createBusiness(store.db, opts.now, { dialPolicy: dialPolicyFromConfig(config), nodeId: config.node.id });
  const contexts = business.contexts;
  // Calls in progress by call-record id, for live control from the console.
  const liveCalls = new Map<string, Call>();
  // Inbound calls being set up or answered here (some are not in liveCalls yet): drain waits for them.
  const inFlight = { n: 0 };
  const callsHere = () => Math.max(liveCalls.size, inFlight.n);
  const sipAddress = config.sip.advertise ?? (config.sip.bind === '0.0.0.0' ? undefined : config.sip.bind);
  const node = new NodeRegistry(store.db, {
    id: config.node.id, capacity: config.calls.max, calls: callsHere, heartbeatMs: config.node.heartbeatMs, lapseMs: config.node.lapseMs,
    sipUri: config.telephony === 'sip' && sipAddress ? `sip:${sipAddress}:${config.sip.port}` : undefined, httpUrl: config.http.publicUrl,
    now: business.now, logger: logger.child({ mod: 'node' }), exclusive: store.dialect === 'pglite',
    onDrainRequested: () => app.onDrainRequested?.(),
  });
  try {
    await node.register();
  } catch (e) {
    await store.close();
    throw e;
  }
  // This node's calls that a previous process left ringing or answered died with it.
  const interrupted = await business.calls.closeInterrupted();
  if (interrupted) logger.warn({ calls: interrupted }, 'closed calls a previous process left open as interrupted');
  if (config.seedDemo) await seedDemoIfEmpty(contexts, logger);
  const metrics = createMetrics();

  let speechRef: SpeechSet | undefined;
  const smsProviders = createSmsProviders(config);
  let smsJobs: JobRunner | undefined;
  const sms = smsProviders.length
    ? new SmsService(store.db, business, {
        providers: smsProviders, logger: logger.child({ mod: 'sms' }), publicUrl: config.http.publicUrl,
        globalPerSecond: config.sms.ratePerSecond, onQueued: () => smsJobs?.notify(), llm: () => speechRef?.llm, llmUnderstands: config.llmUnderstands,
      })
    : undefined;
  if (sms) smsJobs = new JobRunner(store.db, { queue: INBOUND_QUEUE, handler: (j) => sms.process(j), logger: logger.child({ mod: 'sms-jobs' }), now: business.now });
  let telephonyRef: Telephony | undefined;
  // Another node's calls are reached through the database (LISTEN/NOTIFY); PGlite is one process.
  const control = config.databaseUrl
    ? new ControlChannel({ databaseUrl: config.databaseUrl, nodeId: config.node.id, logger: logger.child({ mod: 'control' }), handle: (r) => onControl(r) })
    : undefined;
  const onControl = async (r: ControlRequest) => {
    const call = liveCalls.get(r.callId);
    if (!call) return { status: 'not_live' as const };
    if (r.op === 'hangup') {
      await call.hangup('admin_hangup');
      return { status: 'ok' as const, result: { ok: true } };
    }
    const target = await ownerTarget(business, r.callId);
    if (!target) return { status: 'failed' as const, error: 'the context has no owner target' };
    const result = await call.transfer({ uri: target.value, mode: 'blind', ringSeconds: target.ringSeconds, ...(r.requestedBy ? { requestedBy: r.requestedBy } : {}) });
    return { status: 'ok' as const, result };
  };
  const live: LiveCalls = {
    list: () => [...liveCalls.entries()].map(([id, call]) => ({ id, call })),
    get: (id) => liveCalls.get(id),
    nodeId: config.node.id,
    nodes: () => listNodes(store.db, business.now(), config.node.lapseMs),
    ...(control ? { remote: (to: string, op: 'hangup' | 'transfer', callId: string, by: string) => control.send(to, op, callId, by) } : {}),
    dial: async (to, contextName, purpose, requestedBy) => {
      if (!telephonyRef) throw new Error('no telephony backend is running');
      if (purpose) {
        const number = toE164(to);
        if (!number) throw new Error(`${to} is not a phone number`);
        const stored = contextName ? await contexts.get(contextName) : (await contexts.list()).find((c) => c.document.default);
        if (!stored) throw new Error('no context to call for');
        const { id, done } = await placePurposeCall(
          { telephony: telephonyRef, business, speech: speechRef!, dataDir: config.dataDir, logger, llmMaxTokens: config.llmMaxTokens, llmUnderstands: config.llmUnderstands, llmFirstTokenMs: config.llmFirstTokenMs },
          { to: number, context: stored, purpose: purpose.purpose, ...(purpose.appointmentId ? { appointmentId: purpose.appointmentId } : {}), ...(requestedBy ? { requestedBy } : {}) },
        );
        void done;
        return { id };
      }
      const ctx = contextName ? await contexts.get(contextName) : undefined;
      const call = await telephonyRef.dial(to, { ...(ctx?.document.numbers[0] ? { from: ctx.document.numbers[0] } : {}), ...(requestedBy ? { requestedBy } : {}) });
      const id = await business.calls.start({ direction: 'outbound', backend: call.backend, externalId: call.id, from: call.from, to: call.to, contextId: ctx?.id ?? null, purpose: 'admin' });
      await business.calls.answered(id);
      liveCalls.set(id, call);
      recordQualityOnEnd(business.calls, id, call, (err) => logger.warn({ err, callId: id }, 'call quality not saved'));
      call.once('ended', (reason) => {
        liveCalls.delete(id);
        void business.calls.ended(id, reason);
      });
      return { id };
    },
    connect: async (to, contextName, requestedBy) => {
      if (!telephonyRef) throw new ConnectError('no_telephony', 'Calls cannot be placed: no phone line (FRONTDESK_TELEPHONY) is set up.');
      const stored = contextName ? await contexts.get(contextName) : (await contexts.list()).find((c) => c.document.default);
      if (!stored) throw new ConnectError('no_owner_phone', 'There is no business to call for.');
      // Refused before the owner's phone rings, not after they answered.
      const verdict = checkDial(to, dialPolicyFromConfig(config));
      const number = toE164(verdict.target);
      if (!verdict.allowed || !number) throw new ConnectError('bad_number', verdict.allowed ? `${to} is not a phone number.` : `${to} cannot be called: ${verdict.reason}.`);
      const r = await clickToCall({ telephony: telephonyRef, business, tts: speechRef?.tts, logger, liveCalls }, { context: stored, to: number, requestedBy });
      return { id: r.id, owner: r.owner };
    },
  };
  const http = await buildHttpServer({ store, business, sms, publicUrl: config.http.publicUrl, trustProxy: config.http.trustProxy, metrics, logger, version, live,
    telephony: () => (telephonyRef?.status ? { backend: telephonyRef.name, ...telephonyRef.status() } : undefined) });

  // Notification channels this process can send on; calls join when the voice agent lands.
  const senders: Partial<Record<Channel, ChannelSender>> = {};
  if (sms) senders.sms = sms.sender;
  const email = config.smtp.url ? createEmailSender(config.smtp.url, config.smtp.from, { allowPlain: config.smtp.allowPlain }) : undefined;
  if (email) senders.email = email;
  const outbox = new OutboxWorker(store.db, { senders, logger: logger.child({ mod: 'outbox' }), now: business.now });
  // Each call's one-line summary and tag, written once it ends (by the LLM when there is one).
  const summarizing = new Set<Promise<unknown>>();
  business.calls.onEnded((id) => {
    // The in-process model serves one request at a time: while any call is in progress a summary
    // is written by the rules, so no caller waits behind it.
    const llm = liveCalls.size === 0 || config.llm?.url ? speechRef?.llm : undefined;
    const p = summarizeStoredCall(store.db, business, id, llm)
      .catch((err: unknown) => logger.warn({ err, callId: id }, 'call summary not written'))
      .finally(() => summarizing.delete(p));
    summarizing.add(p);
  });
  const telephony = createTelephony(config, logger, {
    onOutbound: (e) => {
      void audit(store.db, { actor: e.requestedBy, action: e.allowed ? 'call.outbound' : 'call.outbound_refused', targetType: 'phone', targetId: e.to, details: e })
        .catch((err: unknown) => logger.warn({ err }, 'audit write failed'));
    },
  });
  const speech = createSpeech({ modelsDir: config.modelsDir, builtModelsDir: config.builtModelsDir, llmModel: config.llmModel, llmThreads: config.llmThreads, llmServer: config.llm, sttModel: config.sttModel, ttsModel: config.ttsModel, turnModel: config.turnModel });
  speechRef = speech;
  for (const r of speech.report) logger.info(r, 'speech engine');
  telephonyRef = telephony;
  // WebSockets on the HTTP port: the console's test call, and mod_audio_fork's media (FreeSWITCH).
  const browserLine = new BrowserLine();
  http.server.on('upgrade', (req, sock, head) => {
    const url = req.url ?? '';
    if (url.startsWith('/api/test-call')) {
      void acceptTestCall({ store, business, speech, dataDir: config.dataDir, logger, liveCalls, telephony: undefined, llmMaxTokens: config.llmMaxTokens, llmUnderstands: config.llmUnderstands, llmFirstTokenMs: config.llmFirstTokenMs, draining: () => node.draining }, http, browserLine, req, sock, head)
        .catch((err: unknown) => {
          logger.warn({ err }, 'test call failed to start');
          sock.destroy();
        });
    } else if (telephony instanceof FsTelephony && url.startsWith('/audio-fork')) telephony.forkServer.handleUpgrade(req, sock, head);
    else sock.destroy();
  });
  telephony?.on('call', (call) => {
    inFlight.n++;
    void handleInboundCall({ store, business, speech, dataDir: config.dataDir, logger, liveCalls, telephony, llmMaxTokens: config.llmMaxTokens, llmUnderstands: config.llmUnderstands, llmFirstTokenMs: config.llmFirstTokenMs, metrics, draining: () => node.draining, ...(opts.turn ? { turn: opts.turn } : {}) }, call)
      .finally(() => inFlight.n--);
  });
  if (telephony && speech.tts) senders.call = createCallAlertSender(telephony, speech.tts, business);
  let summaryTimer: NodeJS.Timeout | undefined;
  let retentionTimer: NodeJS.Timeout | undefined;
  // The callers' kept audio of unsure addresses and names, past its retention (by the business clock).
  const retention = async () => {
    if (!config.answerAudioRetentionDays) return;
    try {
      const n = await pruneAnswerAudio(store.db, join(config.dataDir, 'recordings'), config.answerAudioRetentionDays, business.now());
      if (n) logger.info({ files: n, days: config.answerAudioRetentionDays }, 'kept answer audio past its retention deleted');
    } catch (err) {
      logger.warn({ err }, 'answer audio retention failed');
    }
  };
  let cliEndpoint: CliEndpoint | undefined;
  const summaries = async () => {
    try {
      await business.alerts.dailySummaries(store.db, await contexts.list());
    } catch (err) {
      logger.warn({ err }, 'daily summaries failed');
    }
  };

  const app: App = {
    config,
    store,
    http,
    metrics,
    contexts,
    business,
    outbox,
    telephony,
    sms,
    url: undefined,
    speech,
    speechReady: Promise.resolve(),
    node,
    onDrainRequested: undefined,
    async start() {
      // Calls are answered while the recognizer loads; until then they get the keypad flow.
      app.speechReady = speech.prepare((msg) => logger.info(msg)).then(
        async () => {
          logger.info({ stt: speech.stt?.name ?? 'none' }, 'speech recognition ready');
          // Each business's system prompt is evaluated once now, not by its first caller.
          if (speech.llm) {
            for (const stored of (await contexts.list()).slice(0, 2)) {
              const prompt = new Brain(new AgentTools({ business, context: stored, customer: undefined, channel: 'call' }), { conversation: 'warm', channel: 'call', now: business.now }).systemPrompt();
              await speech.llm.warm([{ role: 'system', content: prompt }]);
            }
          }
        },
        (err: unknown) => logger.error({ err }, 'speech recognition unavailable; callers get the keypad and voicemail'),
      );
      app.url = await http.listen({ host: config.http.host, port: config.http.port });
      // CLI commands reach the embedded database through this process (which owns it); doctor asks it how the trunk is.
      cliEndpoint = await startCliEndpoint(store, config.dataDir, logger.child({ mod: 'cli' }), () => ({
        trunk: telephony instanceof SipEndpoint && config.sip.trunk ? { registered: telephony.registered } : null,
      }), dialPolicyFromConfig(config));
      await telephony?.start();
      await control?.start();
      node.start();
      outbox.start();
      smsJobs?.start();
      summaryTimer = setInterval(() => void summaries(), 60_000);
      retentionTimer = setInterval(() => void retention(), 3_600_000);
      void retention();
      logger.info({ url: app.url, version }, 'frontdesk is up');
    },
    async drain(limitMs) {
      if (telephony) telephony.draining = true;
      if (!node.draining) await node.setState('draining').catch((err: unknown) => logger.warn({ err }, 'could not record the drain'));
      logger.info({ calls: callsHere(), limitMs }, 'draining: new calls are refused; waiting for the calls in progress');
      // Polled: calls end through several paths (inbound handlers, outbound and alert legs).
      const deadline = Date.now() + limitMs;
      while (callsHere() > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, Math.min(200, Math.max(1, deadline - Date.now()))));
      const left = callsHere();
      if (left) logger.warn({ calls: left }, 'drain limit reached; the remaining calls end now');
      return { left };
    },
    async stop() {
      clearInterval(summaryTimer);
      clearInterval(retentionTimer);
      await cliEndpoint?.close();
      await browserLine.stop();
      await telephony?.stop();
      await node.stop().catch((err: unknown) => logger.warn({ err }, 'could not record leaving the cluster'));
      await control?.stop();
      await http.close();
      await outbox.stop();
      await smsJobs?.stop();
      email?.close();
      await app.speechReady;
      await Promise.all(summarizing);
      await speech.close();
      await store.close();
      logger.info('frontdesk stopped');
    },
  };
  return app;
}
