import { expect, it } from 'vitest';
import { ContextService } from '../../src/business/context/service.js';
import { ContextValidationError } from '../../src/business/context/schema.js';
import { demoContext } from '../../src/business/context/demo.js';
import { describeStores } from '../helpers/stores.js';

describeStores('context versions', ({ store }) => {
  it('keeps every change with its author and what changed, and rolls back as a new version', async () => {
    const svc = new ContextService(store().db);
    const v1 = await svc.save(demoContext, 'system', 'seed');
    expect(v1.version).toBe(1);

    const v2 = await svc.save(
      { ...demoContext, greeting: 'Hello from Sparkle!', hours: { ...demoContext.hours, sun: [{ open: '10:00', close: '12:00' }] } },
      'maria',
      'open on Sundays',
    );
    expect(v2.version).toBe(2);

    // Saving the same document again is not a change.
    const same = await svc.save(v2.document, 'maria');
    expect(same.version).toBe(2);

    const history = await svc.history('sparkle-cleaning');
    expect(history.map((h) => [h.version, h.author, h.message])).toEqual([
      [2, 'maria', 'open on Sundays'],
      [1, 'system', 'seed'],
    ]);
    const paths = history[0]!.diff.map((d) => d.path).sort();
    expect(paths).toEqual(['greeting', 'hours.sun[0]']);
    expect(history[0]!.diff.find((d) => d.path === 'greeting')).toMatchObject({
      from: demoContext.greeting,
      to: 'Hello from Sparkle!',
    });

    const v3 = await svc.rollback('sparkle-cleaning', 1, 'maria');
    expect(v3.version).toBe(3);
    expect((await svc.get('sparkle-cleaning')).document.greeting).toBe(demoContext.greeting);
    expect((await svc.history('sparkle-cleaning'))[0]!.message).toBe('rollback to version 1');

    const audit = await store().db.selectFrom('audit_log').select(['actor', 'action']).where('target_id', '=', 'sparkle-cleaning').orderBy('id').execute();
    expect(audit).toEqual([
      { actor: 'system', action: 'context.create' },
      { actor: 'maria', action: 'context.update' },
      { actor: 'maria', action: 'context.update' },
    ]);
  });

  it('maps dialled numbers to their context, falls back to the default, and refuses a number twice', async () => {
    const svc = new ContextService(store().db);
    await svc.save(
      { ...demoContext, name: 'maria-personal', kind: 'personal', displayName: "Maria's line", default: false, numbers: ['+15125550111'] },
      'maria',
    );
    expect((await svc.forNumber('+15125550111'))?.name).toBe('maria-personal');
    expect((await svc.forNumber('+15125550100'))?.name).toBe('sparkle-cleaning');
    expect((await svc.forNumber('+14155550000'))?.name).toBe('sparkle-cleaning');

    const err = await svc
      .save({ ...demoContext, name: 'thief', default: false, numbers: ['+15125550100'] }, 'x')
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ContextValidationError);
    expect((err as ContextValidationError).errors).toEqual([
      { path: 'numbers[0]', message: '+15125550100 already belongs to context "sparkle-cleaning"' },
    ]);
    expect(await svc.find('thief')).toBeUndefined();
  });

  it('rejects an invalid document with field paths and saves nothing', async () => {
    const svc = new ContextService(store().db);
    const before = (await svc.get('sparkle-cleaning')).version;
    const err = await svc
      .save({ ...demoContext, timezone: 'Mars/Olympus', services: [{ ...demoContext.services[0], durationMinutes: 'two hours' }] }, 'x')
      .catch((e: unknown) => e as ContextValidationError);
    expect(err).toBeInstanceOf(ContextValidationError);
    const paths = (err as ContextValidationError).errors.map((e) => e.path);
    expect(paths).toContain('timezone');
    expect(paths).toContain('services[0].durationMinutes');
    expect((await svc.get('sparkle-cleaning')).version).toBe(before);
  });
});
