import type { ContextInput } from './schema.js';

/** The sample house-cleaning business seeded on first start; answers any unclaimed number. */
export const demoContext = {
  name: 'sparkle-cleaning',
  kind: 'business',
  displayName: 'Sparkle & Shine Cleaning',
  default: true,
  timezone: 'America/Chicago',
  numbers: ['+15125550100'],
  hours: {
    mon: [{ open: '08:00', close: '18:00' }],
    tue: [{ open: '08:00', close: '18:00' }],
    wed: [{ open: '08:00', close: '18:00' }],
    thu: [{ open: '08:00', close: '18:00' }],
    fri: [{ open: '08:00', close: '18:00' }],
    sat: [{ open: '09:00', close: '14:00' }],
    sun: [],
  },
  holidays: [
    { date: '2026-12-25', name: 'Christmas Day', hours: [] },
    { date: '2027-01-01', name: "New Year's Day", hours: [] },
  ],
  afterHours: {
    action: 'agent',
    greeting:
      "Thanks for calling Sparkle and Shine Cleaning. We're closed right now, but I can take a message or book a cleaning for you.",
  },
  greeting: 'Thanks for calling Sparkle and Shine Cleaning, this is Sam. How can I help you today?',
  persona: { name: 'Sam', style: 'friendly, upbeat and brief; confirms details back to the caller' },
  info: {
    address: '100 Congress Ave, Austin, TX',
    serviceArea: 'Austin, Round Rock, Cedar Park and Pflugerville',
    website: 'sparkleandshine.example',
    policies: [
      'We bring all supplies and equipment.',
      'Someone must let the crew in, or leave a key or door code.',
    ],
    faq: [
      { q: 'Do you bring your own supplies?', a: 'Yes, we bring everything, including eco-friendly products on request.' },
      { q: 'Are you insured?', a: 'Yes, we are fully bonded and insured.' },
    ],
  },
  services: [
    {
      id: 'standard',
      name: 'Standard cleaning',
      description: 'Kitchen, bathrooms, dusting, vacuuming and mopping.',
      durationMinutes: 120,
      price: { base: 120, perUnit: { unit: 'bedroom', amount: 25, included: 1, minutes: 30 } },
      aliases: ['regular cleaning', 'house cleaning', 'basic cleaning'],
    },
    {
      id: 'deep',
      name: 'Deep cleaning',
      description: 'Everything in a standard cleaning plus baseboards, inside appliances and detailed scrubbing.',
      durationMinutes: 240,
      price: { base: 220, perUnit: { unit: 'bedroom', amount: 40, included: 1, minutes: 45 } },
      aliases: ['deep clean', 'spring cleaning'],
    },
    {
      id: 'move-out',
      name: 'Move-out cleaning',
      description: 'A top-to-bottom clean of an empty home, inside cabinets and appliances.',
      durationMinutes: 300,
      price: { base: 280, perUnit: { unit: 'bedroom', amount: 50, included: 1, minutes: 60 } },
      crewSize: 2,
      aliases: ['move in cleaning', 'move out', 'end of lease cleaning'],
    },
  ],
  pricing: {
    currency: 'USD',
    modifiers: [
      { id: 'pets', label: 'Pet hair', kind: 'fixed', amount: 20, durationPercent: 10 },
      { id: 'fridge', label: 'Inside fridge', kind: 'fixed', amount: 30, durationPercent: 10 },
      { id: 'first-visit', label: 'First visit discount', kind: 'percent', amount: -10, firstVisitOnly: true },
    ],
    taxPercent: 0,
  },
  scheduling: {
    slotMinutes: 30,
    travelBufferMinutes: 30,
    minNoticeHours: 12,
    horizonDays: 60,
    crews: ['crew-a', 'crew-b'],
    workHours: {
      mon: [{ open: '08:00', close: '17:00' }],
      tue: [{ open: '08:00', close: '17:00' }],
      wed: [{ open: '08:00', close: '17:00' }],
      thu: [{ open: '08:00', close: '17:00' }],
      fri: [{ open: '08:00', close: '17:00' }],
      sat: [{ open: '09:00', close: '14:00' }],
      sun: [],
    },
    cancelNoticeHours: 24,
    cancellationPolicy: 'Free to cancel or move up to 24 hours before; later cancellations may be charged $40.',
  },
  owner: {
    name: 'Maria',
    targets: [
      { label: 'Office desk phone', kind: 'extension', value: '101', ringSeconds: 20 },
      { label: "Maria's cell", kind: 'phone', value: '+15125550199', ringSeconds: 25 },
    ],
    transferDigit: '0',
    transferMode: 'warm',
  },
  callerRules: [],
  recording: { enabled: false, consentMessage: 'This call may be recorded for quality and training.' },
  sms: { autoReply: true, quietHours: { start: '21:00', end: '08:00' }, confirmations: true, reminderHoursBefore: 24 },
  alerts: [
    { on: 'booking_created', via: 'sms', to: '+15125550199' },
    { on: 'voicemail', via: 'sms', to: '+15125550199' },
  ],
} as const satisfies ContextInput;
