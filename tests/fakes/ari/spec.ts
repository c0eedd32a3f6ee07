/**
 * The slice of Asterisk's ARI description (Swagger 1.1, as Asterisk serves it under
 * /ari/api-docs) that frontdesk uses, written from the ARI documentation. ari-client builds its
 * methods and event objects from this at connect time, exactly as against a real Asterisk.
 */

type Param = [name: string, paramType: 'path' | 'query' | 'body', dataType?: string, required?: boolean];

const op = (httpMethod: string, nickname: string, params: Param[] = [], responseClass = 'void') => ({
  httpMethod, summary: nickname, nickname, responseClass,
  parameters: params.map(([name, paramType, dataType = 'string', required = paramType === 'path']) => ({ name, paramType, dataType, required, allowMultiple: false })),
});

const prop = (type: string, required = false) => ({ type, required });

const MODELS = {
  Channel: { id: 'Channel', properties: { id: prop('string', true), name: prop('string', true), state: prop('string', true), caller: prop('CallerID'), connected: prop('CallerID'), dialplan: prop('DialplanCEP'), creationtime: prop('Date'), language: prop('string'), channelvars: prop('object') } },
  CallerID: { id: 'CallerID', properties: { name: prop('string', true), number: prop('string', true) } },
  DialplanCEP: { id: 'DialplanCEP', properties: { context: prop('string', true), exten: prop('string', true), priority: prop('long', true) } },
  Bridge: { id: 'Bridge', properties: { id: prop('string', true), technology: prop('string', true), bridge_type: prop('string', true), bridge_class: prop('string', true), name: prop('string', true), channels: prop('List[string]', true) } },
  LiveRecording: { id: 'LiveRecording', properties: { name: prop('string', true), format: prop('string', true), state: prop('string', true), target_uri: prop('string', true) } },
  Variable: { id: 'Variable', properties: { value: prop('string', true) } },
};

const EVENT_MODELS = {
  Message: { id: 'Message', properties: { type: prop('string', true), asterisk_id: prop('string') } },
  Event: { id: 'Event', properties: { type: prop('string', true), application: prop('string', true), timestamp: prop('Date', true) } },
  StasisStart: { id: 'StasisStart', properties: { type: prop('string', true), args: prop('List[string]', true), channel: prop('Channel', true), replace_channel: prop('Channel') } },
  StasisEnd: { id: 'StasisEnd', properties: { type: prop('string', true), channel: prop('Channel', true) } },
  ChannelDtmfReceived: { id: 'ChannelDtmfReceived', properties: { type: prop('string', true), digit: prop('string', true), duration_ms: prop('int', true), channel: prop('Channel', true) } },
  ChannelHangupRequest: { id: 'ChannelHangupRequest', properties: { type: prop('string', true), cause: prop('int'), soft: prop('boolean'), channel: prop('Channel', true) } },
  ChannelDestroyed: { id: 'ChannelDestroyed', properties: { type: prop('string', true), cause: prop('int', true), cause_txt: prop('string', true), channel: prop('Channel', true) } },
  ChannelStateChange: { id: 'ChannelStateChange', properties: { type: prop('string', true), channel: prop('Channel', true) } },
  RecordingFinished: { id: 'RecordingFinished', properties: { type: prop('string', true), recording: prop('LiveRecording', true) } },
  RecordingFailed: { id: 'RecordingFailed', properties: { type: prop('string', true), recording: prop('LiveRecording', true) } },
};

function declaration(basePath: string, resource: string, apis: unknown[], models: Record<string, unknown>) {
  return { apiVersion: '10.0.0', swaggerVersion: '1.1', basePath, resourcePath: `/api-docs/${resource}.{format}`, apis, models };
}

export function ariDocs(basePath: string): Record<string, unknown> {
  return {
    'resources.json': {
      apiVersion: '10.0.0', swaggerVersion: '1.1', basePath,
      apis: ['channels', 'bridges', 'recordings', 'events'].map((r) => ({ path: `/api-docs/${r}.{format}`, description: r })),
    },
    'channels.json': declaration(basePath, 'channels', [
      { path: '/channels', operations: [
        op('GET', 'list', [], 'List[Channel]'),
        op('POST', 'originate', [['endpoint', 'query', 'string', true], ['app', 'query'], ['appArgs', 'query'], ['callerId', 'query'], ['timeout', 'query', 'int'], ['channelId', 'query']], 'Channel'),
      ] },
      { path: '/channels/externalMedia', operations: [
        op('POST', 'externalMedia', [['channelId', 'query'], ['app', 'query', 'string', true], ['external_host', 'query', 'string', true], ['encapsulation', 'query'], ['transport', 'query'], ['connection_type', 'query'], ['format', 'query', 'string', true], ['direction', 'query'], ['data', 'query']], 'Channel'),
      ] },
      { path: '/channels/{channelId}', operations: [op('GET', 'get', [['channelId', 'path']], 'Channel'), op('DELETE', 'hangup', [['channelId', 'path'], ['reason', 'query']])] },
      { path: '/channels/{channelId}/answer', operations: [op('POST', 'answer', [['channelId', 'path']])] },
      { path: '/channels/{channelId}/redirect', operations: [op('POST', 'redirect', [['channelId', 'path'], ['endpoint', 'query', 'string', true]])] },
      { path: '/channels/{channelId}/variable', operations: [op('GET', 'getChannelVar', [['channelId', 'path'], ['variable', 'query', 'string', true]], 'Variable')] },
    ], MODELS),
    'bridges.json': declaration(basePath, 'bridges', [
      { path: '/bridges', operations: [op('GET', 'list', [], 'List[Bridge]'), op('POST', 'create', [['type', 'query'], ['bridgeId', 'query'], ['name', 'query']], 'Bridge')] },
      { path: '/bridges/{bridgeId}', operations: [op('DELETE', 'destroy', [['bridgeId', 'path']])] },
      { path: '/bridges/{bridgeId}/addChannel', operations: [op('POST', 'addChannel', [['bridgeId', 'path'], ['channel', 'query', 'string', true]])] },
      { path: '/bridges/{bridgeId}/removeChannel', operations: [op('POST', 'removeChannel', [['bridgeId', 'path'], ['channel', 'query', 'string', true]])] },
      { path: '/bridges/{bridgeId}/record', operations: [op('POST', 'record', [['bridgeId', 'path'], ['name', 'query', 'string', true], ['format', 'query', 'string', true], ['ifExists', 'query'], ['beep', 'query', 'boolean']], 'LiveRecording')] },
    ], MODELS),
    'recordings.json': declaration(basePath, 'recordings', [
      { path: '/recordings/live/{recordingName}', operations: [op('GET', 'getLive', [['recordingName', 'path']], 'LiveRecording'), op('DELETE', 'cancel', [['recordingName', 'path']])] },
      { path: '/recordings/live/{recordingName}/stop', operations: [op('POST', 'stop', [['recordingName', 'path']])] },
    ], MODELS),
    'events.json': declaration(basePath, 'events', [
      { path: '/events', operations: [op('GET', 'eventWebsocket', [['app', 'query', 'string', true]], 'Message')] },
    ], { ...MODELS, ...EVENT_MODELS }),
  };
}
