import { expect, it } from 'vitest';
import { NodeIdInUseError, NodeRegistry, listNodes, requestDrain } from '../../src/cluster/registry.js';
import { CallLog } from '../../src/business/calls.js';
import { describeStores } from '../helpers/stores.js';

/** The node registry on both dialects, on one injected clock: what survivors and operators see. */
describeStores('node registry', ({ store }) => {
  let t = Date.parse('2031-03-04T10:00:00Z');
  const now = () => new Date(t);
  const node = (id: string, calls = () => 0, extra: Partial<ConstructorParameters<typeof NodeRegistry>[1]> = {}) =>
    new NodeRegistry(store().db, { id, capacity: 8, calls, heartbeatMs: 1_000, lapseMs: 5_000, now, sipUri: `sip:${id}.lan:5060`, ...extra });

  it("a survivor ends a silent node's calls as interrupted, once, and leaves its own and live nodes' calls alone", async () => {
    const a = node('a');
    const b = node('b');
    const c = node('c');
    await Promise.all([a.register(), b.register(), c.register()]);
    const logA = new CallLog(store().db, 'a');
    const logB = new CallLog(store().db, 'b');
    const logC = new CallLog(store().db, 'c');
    const mine = await logA.start({ direction: 'inbound', backend: 'sip', from: '+15125550101', to: '+15125550100' });
    const theirs = await logB.start({ direction: 'inbound', backend: 'sip', from: '+15125550102', to: '+15125550100' });
    await logB.answered(theirs);
    const alive = await logC.start({ direction: 'inbound', backend: 'sip', from: '+15125550103', to: '+15125550100' });
    const done = await logB.start({ direction: 'inbound', backend: 'sip', from: '+15125550104', to: '+15125550100' });
    await logB.ended(done, 'completed');

    // b goes silent; a and c keep beating. Within the lapse nothing happens.
    t += 4_000;
    await a.beat();
    await c.beat();
    expect((await logB.get(theirs))?.state).toBe('answered');
    t += 2_000;
    const reaped: string[][] = [];
    const a2 = node('a', () => 0, { onReaped: (ids) => reaped.push(ids) });
    // (a's own registry object is the one that beats; a2 only reaps, like any survivor)
    const first = await a2.reap();
    const second = await c.reap();
    expect(first).toEqual({ nodes: ['b'], calls: 1 });
    expect(second).toEqual({ nodes: [], calls: 0 });
    expect(reaped).toEqual([['b']]);
    expect(await logB.get(theirs)).toMatchObject({ state: 'ended', disposition: 'interrupted' });
    expect(await logB.get(done)).toMatchObject({ disposition: 'completed' });
    expect((await logA.get(mine))?.state).toBe('ringing');
    expect((await logC.get(alive))?.state).toBe('ringing');
    const listed = await listNodes(store().db, now(), 5_000);
    expect(listed.map((n) => [n.id, n.state, n.alive])).toEqual([['a', 'up', true], ['c', 'up', true], ['b', 'gone', false]]);
    // b was only stalled: its next beat puts it back in the set (and it is reaped again if it stalls again).
    await b.beat();
    expect((await listNodes(store().db, now(), 5_000)).find((n) => n.id === 'b')).toMatchObject({ state: 'up', alive: true });
    await b.stop();
    await Promise.all([a.stop(), c.stop()]);
  });

  it('refuses a second live process under the same id, and lets a restarted one take over a dead one', async () => {
    const first = node('dup');
    await first.register();
    await expect(node('dup').register()).rejects.toThrow(NodeIdInUseError);
    // The first one died (no more beats); once its heartbeat lapsed, the restarted process takes the id.
    t += 6_000;
    const again = node('dup');
    await again.register();
    // The old process, if it was only paused, finds its row taken and does not write over it.
    await first.beat();
    const rows = await store().db.selectFrom('nodes').select(['instance']).where('id', '=', 'dup').execute();
    expect(rows).toEqual([{ instance: again.instance }]);
    // On the embedded database only one process can be running (its lock file): a restart right
    // after a crash takes the row at once.
    const single = node('dup', () => 0, { exclusive: true });
    await single.register();
    expect(await store().db.selectFrom('nodes').select(['instance']).where('id', '=', 'dup').execute()).toEqual([{ instance: single.instance }]);
    await single.stop();
  });

  it("a node starting again closes its own leftover calls and unowned ones, never another node's", async () => {
    const own = new CallLog(store().db, 'restart-me');
    const other = new CallLog(store().db, 'still-up');
    const legacy = new CallLog(store().db);
    const left = await own.start({ direction: 'inbound', backend: 'sip', from: '+15125550105', to: '+15125550100' });
    const oldStyle = await legacy.start({ direction: 'inbound', backend: 'sip', from: '+15125550106', to: '+15125550100' });
    const up = await other.start({ direction: 'inbound', backend: 'sip', from: '+15125550107', to: '+15125550100' });
    await other.answered(up);
    expect(await own.closeInterrupted()).toBeGreaterThanOrEqual(2);
    expect(await own.get(left)).toMatchObject({ state: 'ended', disposition: 'interrupted' });
    expect(await own.get(oldStyle)).toMatchObject({ state: 'ended', disposition: 'interrupted' });
    expect(await other.get(up)).toMatchObject({ state: 'answered', disposition: null });
    await other.ended(up, 'completed');
  });

  it('drain: requested in the store (frontdesk drain on any machine), seen by the node at its next beat', async () => {
    let drained = 0;
    const n = node('d', () => 2, { onDrainRequested: () => drained++ });
    await n.register();
    expect(await requestDrain(store().db, 'd')).toBe(true);
    expect(await requestDrain(store().db, 'd')).toBe(true); // asked twice: still draining, no error
    expect(await requestDrain(store().db, 'nobody')).toBe(false);
    await n.beat();
    await n.beat();
    expect(drained).toBe(1);
    expect(n.draining).toBe(true);
    const [row] = (await listNodes(store().db, now(), 5_000)).filter((x) => x.id === 'd');
    expect(row).toMatchObject({ state: 'draining', calls: 2, capacity: 8, alive: true, sipUri: 'sip:d.lan:5060' });
    await n.stop();
    expect((await listNodes(store().db, now(), 5_000)).find((x) => x.id === 'd')).toMatchObject({ state: 'gone', alive: false });
  });
});
