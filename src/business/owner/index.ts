export { OwnerDesk, OwnerCommandError, type OwnerAction, type OwnerWho, type Plan } from './desk.js';
export { OwnerPins, hashPin, PinError, pinPolicy, type PinVerdict } from './pin.js';
export { parseOwnerCommand, type OwnerCommand } from './parse.js';
export { POLICY, TIERS, requirement, type Tier, type OwnerCommandKind } from './policy.js';
