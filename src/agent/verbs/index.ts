export { type CallLeg, type CallLegDeps, legEvent, playLine, recorded } from './leg.js';
export { findMe } from './transfer.js';
export { voicemail } from './voicemail.js';
export { takeMessage } from './message.js';
export { recordingConsent, saveOwnRecording } from './consent.js';
