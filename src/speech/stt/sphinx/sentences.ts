/**
 * What callers to a small business say, as example sentences for the recognizer's language model.
 * The business's own words (services, names, add-ons) are added per context by the agent.
 */

const DAYS = ['monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday', 'sunday'];
const WHEN = [
  'today', 'tomorrow', 'this week', 'next week', 'this weekend', 'next weekend', 'the day after tomorrow',
  ...DAYS, ...DAYS.map((d) => `next ${d}`), ...DAYS.map((d) => `this ${d}`), ...DAYS.map((d) => `on ${d}`),
];
const HOURS = ['one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine', 'ten', 'eleven', 'twelve'];
const TIMES = [
  ...HOURS.map((h) => `${h} a.m.`), ...HOURS.map((h) => `${h} p.m.`), ...HOURS.map((h) => `${h} o'clock`),
  ...HOURS.map((h) => `${h} thirty`), ...HOURS.map((h) => `${h} fifteen`), ...HOURS.map((h) => `${h} forty five`),
  'noon', 'nine in the morning', 'ten in the morning', 'two in the afternoon', 'three in the afternoon', 'the morning', 'the afternoon', 'the evening',
];
const NUMBERS = ['one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine', 'ten', 'eleven', 'twelve', 'twenty', 'thirty', 'forty', 'fifty', 'hundred'];

const FIXED = [
  'yes', 'yes please', 'yeah', 'yep', 'sure', 'okay', 'ok', 'correct', 'that is right', "that's right", 'that works', 'sounds good', 'perfect',
  'go ahead', 'please do', 'absolutely', 'no', 'no thanks', 'no thank you', 'nope', 'not really', "that's all", 'that is all', 'nothing else',
  'thank you', 'thanks', 'thanks a lot', 'goodbye', 'bye', 'bye bye', 'have a good day', 'hello', 'hi', 'hi there', 'good morning', 'good afternoon',
  'how much does it cost', 'how much is it', 'what are your prices', 'what do you charge', 'can i get a quote', 'i would like a quote', 'i need an estimate',
  'what are your hours', 'when are you open', 'are you open on saturday', 'what time do you close', 'what services do you offer', 'what do you do',
  'i would like to book a cleaning', 'i want to book an appointment', 'can i schedule a cleaning', 'can you come next week', 'do you have any openings',
  'what times are available', 'is there anything available', 'i need to cancel my appointment', 'cancel my appointment', 'please cancel it',
  'i need to reschedule', 'can i move my appointment', 'i want to change the time', 'when is my appointment', 'do i have an appointment',
  'can i speak to the owner', 'can i talk to a person', 'let me talk to someone', 'i want to speak with a manager', 'operator',
  'can i leave a message', 'i want to leave a message', 'please have her call me back', 'please call me back', 'tell her i called',
  'the first one', 'the second one', 'the last one', 'the earlier one', 'the later one', 'either one', 'whatever is earliest',
  'my address is', 'main street', 'oak avenue', 'elm street', 'park road', 'first street', 'second street', 'lake drive', 'hill lane',
  'my name is', 'this is', 'i have a dog', 'i have pets', 'inside the fridge', 'the house is', 'it is a house', 'it is an apartment',
  'do you bring your own supplies', 'are you insured', 'are your cleaners insured', 'do you use eco friendly products',
  'do you clean offices', 'do i need to be home', 'can i be home during the cleaning', 'how many people come', 'do you do windows',
  'how long does it take', 'what is included', 'do you have reviews', 'are you licensed', 'can you do it every week', 'do you do laundry',
  'sorry', 'what', 'say that again', 'can you repeat that', 'i did not catch that', 'hold on', 'one moment', 'um', 'uh', 'hm',
];

/** Callers read phone numbers digit by digit, with "oh" or "zero" and a pause word between groups. */
const DIGITS = ['zero', 'oh', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine'];
const EVERYDAY = [
  "it's a house", "it's an apartment", "it's two bedrooms", "it's a two bedroom apartment", "it's for my mother",
  'just a standard cleaning', 'just the kitchen', 'just once', 'just checking', 'we have two bedrooms and two bathrooms',
  'we have a dog and a cat', 'we just moved in', 'we are moving out', 'and the bathrooms too', 'and the windows',
  'and', 'also', 'we', 'it is', "it's", 'just', 'actually', 'i mean', 'i said', 'no i said thursday', 'not tuesday thursday',
];

function* phoneNumbers(): Generator<string> {
  // A deterministic spread of digit groups (no randomness: the model file is keyed by its sentences).
  for (let i = 0; i < 40; i++) {
    const d = (k: number) => DIGITS[(i * 7 + k * 3) % DIGITS.length]!;
    const group = (n: number, at: number) => Array.from({ length: n }, (_, k) => d(at + k)).join(' ');
    const number = `${group(3, 0)} ${group(3, 3)} ${group(4, 6)}`;
    yield `${['my number is', 'you can reach me at', 'call me back at', "it's", 'the number is', ''][i % 6]} ${number}`.trim();
    yield `${group(3, 1)} ${group(4, 5)}`;
  }
  // Every digit after every digit, so no pair ("one two") loses to a homophone ("want to").
  for (const a of DIGITS) for (const b of DIGITS) yield `${a} ${b} ${DIGITS[(DIGITS.indexOf(a) + DIGITS.indexOf(b)) % DIGITS.length]}`;
}

/** What an owner says on the owner's line (src/agent/owner.ts); customers' names come per call as hints. */
const OWNER = [
  "what's on today", "what's on tomorrow", "what's on this week", "what's on next week", 'what do i have tomorrow', 'what about this week',
  'any messages', 'any new messages', 'read me the voicemails', 'read me my messages', 'do i have any voicemails',
  "we're running twenty minutes late", "we're running late", "we're on the way", 'the crew is on the way',
  'block the last caller', 'block that number', 'notify me when someone books a deep clean', 'notify me when a vip calls',
  'notify me when a voicemail sounds urgent', 'text me when someone books a deep clean', 'call me when a voicemail sounds urgent',
  "call me at six with tomorrow's schedule", "forward calls to my cell until five", 'close early today at three',
  "we're closed friday for the holiday", 'cancel my three p.m.', "that's all", 'my pin is', 'pin',
];

function* owner(): Generator<string> {
  yield* OWNER;
  for (const d of DAYS) {
    yield `what's on ${d}`;
    yield `we're closed ${d} for the holiday`;
    yield `close early ${d} at three`;
    for (const to of DAYS.slice(0, 6)) yield `move the ${d} visit to ${to} at ten`;
  }
  for (const h of HOURS) {
    yield `cancel my ${h} p.m.`;
    yield `cancel my ${h} a.m.`;
    yield `cancel my ${h} o'clock`;
    yield `close early today at ${h}`;
    yield `forward calls to my cell until ${h}`;
    yield `call me at ${h} with tomorrow's schedule`;
    yield `move it to thursday at ${h}`;
  }
  for (const n of ['five', 'ten', 'fifteen', 'twenty', 'thirty', 'forty five']) yield `we're running ${n} minutes late`;
  // PINs are said digit by digit: a deterministic spread of four-digit groups.
  for (let i = 0; i < 30; i++) yield `my pin is ${[0, 1, 2, 3].map((k) => DIGITS[(i * 3 + k * 7 + 2) % DIGITS.length]).join(' ')}`;
}

function* generate(): Generator<string> {
  yield* FIXED;
  yield* owner();
  yield* EVERYDAY;
  yield* phoneNumbers();
  for (const w of WHEN) {
    yield w;
    yield `can you come ${w}`;
    yield `i would like a cleaning ${w}`;
    yield `do you have anything ${w}`;
  }
  for (const t of TIMES) {
    yield t;
    yield `at ${t}`;
    yield `how about ${t}`;
  }
  for (const w of [...DAYS, 'tomorrow', `next ${DAYS[1]}`]) for (const t of ['nine a.m.', 'ten a.m.', 'two p.m.', 'one thirty', 'noon']) yield `${w} at ${t}`;
  for (const n of NUMBERS) {
    yield `${n} bedrooms`;
    yield `it has ${n} bedrooms`;
    yield `a ${n} bedroom house`;
    yield `${n} ${NUMBERS[(NUMBERS.indexOf(n) + 3) % NUMBERS.length]} main street`;
  }
}

export const BASE_SENTENCES: readonly string[] = [...new Set(generate())];
