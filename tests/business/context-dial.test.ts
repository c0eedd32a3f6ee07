import { expect, it } from 'vitest';
import { createBusiness } from '../../src/business/index.js';
import { demoContext } from '../../src/business/context/demo.js';
import { ContextValidationError } from '../../src/business/context/schema.js';
import { resolvePolicy } from '../../src/business/dial-policy.js';
import { describeStores } from '../helpers/stores.js';

/** A careless owner (or a stolen session) saving a context whose owner target is a toll line. */
describeStores('owner targets checked against the dial policy on save', ({ store }) => {
  it('names each target frontdesk would not dial, and saves nothing', async () => {
    const biz = createBusiness(store().db, () => new Date('2030-01-07T16:00:00Z'), { dialPolicy: resolvePolicy() });
    await biz.contexts.save(demoContext, 'system');
    const bad = {
      ...demoContext,
      owner: {
        ...demoContext.owner,
        targets: [
          { label: 'Desk', kind: 'extension', value: '101' },
          { label: 'Premium', kind: 'phone', value: '+19005550100' },
          { label: 'Jamaica', kind: 'phone', value: '+18765550100' },
          { label: 'Police', kind: 'extension', value: '911' },
          { label: 'Off-net', kind: 'sip', value: 'sip:owner@203.0.113.9' },
        ],
      },
      alerts: [{ on: 'voicemail', via: 'call', to: '+442079460958' }],
      callerRules: [{ match: '+1900', action: 'block' }],
    };
    const err = await biz.contexts.save(bad, 'maria').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ContextValidationError);
    const fields = (err as ContextValidationError).errors;
    expect(fields.map((f) => f.path)).toEqual([
      'owner.targets[1].value', 'owner.targets[2].value', 'owner.targets[3].value', 'owner.targets[4].value', 'alerts[0].to', 'callerRules[0].match',
    ]);
    expect(fields[0]!.message).toMatch(/premium-rate numbers need FRONTDESK_DIAL_PREMIUM/);
    expect(fields[1]!.message).toMatch(/international.*JM.*FRONTDESK_DIAL_INTERNATIONAL/);
    expect(fields[2]!.message).toMatch(/emergency numbers are never dialled/);
    expect(fields[3]!.message).toMatch(/outside the trusted networks/);
    expect((await biz.contexts.get('sparkle-cleaning')).version).toBe(1);
    // With the settings that allow it, the same owner may save an international cell.
    const open = createBusiness(store().db, () => new Date('2030-01-07T16:00:00Z'), { dialPolicy: resolvePolicy({ allowInternational: true }) });
    const saved = await open.contexts.save({ ...demoContext, owner: { ...demoContext.owner, targets: [{ label: 'Jamaica', kind: 'phone', value: '+18765550100' }] } }, 'maria');
    expect(saved.version).toBe(2);
  });
});
