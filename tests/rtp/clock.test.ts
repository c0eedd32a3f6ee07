import { describe, expect, it } from 'vitest';
import { MediaClock } from '../../src/telephony/rtp/clock.js';
import { FakeTime } from '../helpers/fake-time.js';

describe('MediaClock', () => {
  it('keeps its tick grid when one tick comes late, so a busy moment does not push every later packet back', () => {
    const time = new FakeTime();
    const clock = new MediaClock(10, time);
    const ticks: number[] = [];
    clock.add({ onTick: (now) => ticks.push(now - 1000) });

    time.fire(); // 10
    time.fire(7); // due at 20, woke at 27
    time.fire(); // back on the grid: 30
    time.fire(); // 40
    expect(ticks).toEqual([10, 27, 30, 40]);
    expect(clock.nextTickAt() - 1000).toBe(50);
  });

  it('catches up at once after a stall longer than a tick instead of waiting', () => {
    const time = new FakeTime();
    const clock = new MediaClock(10, time);
    const ticks: number[] = [];
    clock.add({ onTick: (now) => ticks.push(now - 1000) });
    time.fire(25); // due at 10, woke at 35: the ticks for 20 and 30 are owed
    time.fire();
    time.fire();
    time.fire();
    expect(ticks).toEqual([35, 35, 35, 40]);
    expect(time.delays.slice(1, 3)).toEqual([0, 0]);
  });

  it('removes a listener whose tick throws, tells it, and keeps ticking for the others', () => {
    const time = new FakeTime();
    const clock = new MediaClock(10, time);
    let good = 0;
    let badTicks = 0;
    const faults: unknown[] = [];
    clock.add({
      onTick: () => {
        badTicks++;
        throw new Error('socket closed');
      },
      onFault: (err) => faults.push(err),
    });
    clock.add({ onTick: () => good++ });

    time.fire();
    time.fire();
    time.fire();
    expect(badTicks).toBe(1);
    expect(faults).toHaveLength(1);
    expect((faults[0] as Error).message).toBe('socket closed');
    expect(good).toBe(3);
  });

  it('survives a listener whose fault handler throws too', () => {
    const time = new FakeTime();
    const clock = new MediaClock(10, time);
    let good = 0;
    clock.add({
      onTick: () => {
        throw new Error('tick');
      },
      onFault: () => {
        throw new Error('fault');
      },
    });
    clock.add({ onTick: () => good++ });
    time.fire();
    time.fire();
    expect(good).toBe(2);
  });

  it('stops its timer when the last listener leaves and starts a fresh grid when one joins', () => {
    const time = new FakeTime();
    const clock = new MediaClock(10, time);
    const l = { onTick: () => {} };
    clock.add(l);
    time.fire();
    clock.remove(l);
    expect(time.armed).toBe(false);
    expect(clock.nextTickAt()).toBe(time.now());

    time.t += 333;
    const ticks: number[] = [];
    const start = time.now();
    clock.add({ onTick: (now) => ticks.push(now - start) });
    expect(clock.nextTickAt() - start).toBe(10);
    time.fire();
    expect(ticks).toEqual([10]);
  });
});
