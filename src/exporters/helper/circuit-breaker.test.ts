import { describe, expect, it } from 'vitest';
import { CircuitBreaker } from './circuit-breaker.ts';
import { until } from './testing.ts';

const cfg = { enabled: true, failure_threshold: 3, open_duration: 30, half_open_requests: 1 };

describe('CircuitBreaker', () => {
  it('opens after failure_threshold consecutive failures, and a success resets the count', () => {
    const b = new CircuitBreaker(cfg);
    const fail = () => b.release(b.tryAcquire()!, false);
    fail();
    fail();
    b.release(b.tryAcquire()!, true);
    fail();
    fail();
    expect(b.state).toBe('closed');
    fail();
    expect(b.state).toBe('open');
    expect(b.tryAcquire()).toBeUndefined();
    b.dispose();
  });

  it('lets one probe through when half-open, then closes on success', async () => {
    const b = new CircuitBreaker(cfg);
    for (let i = 0; i < 3; i++) b.release(b.tryAcquire()!, false);
    await until(() => b.state === 'half_open');
    const probe = b.tryAcquire()!;
    expect(probe.probe).toBe(true);
    expect(b.tryAcquire()).toBeUndefined();
    // A waiter is released when the probe succeeds.
    const waiter = b.acquire(new AbortController().signal);
    b.release(probe, true);
    expect(b.state).toBe('closed');
    expect(await waiter).toEqual({ probe: false });
    b.dispose();
  });

  it('re-opens when the probe fails', async () => {
    const b = new CircuitBreaker(cfg);
    const states: string[] = [];
    b.onStateChange((s) => states.push(s));
    for (let i = 0; i < 3; i++) b.release(b.tryAcquire()!, false);
    await until(() => b.state === 'half_open');
    b.release(b.tryAcquire()!, false);
    expect(b.state).toBe('open');
    expect(states).toEqual(['open', 'half_open', 'open']);
    b.dispose();
  });

  it('acquire gives up when its signal aborts', async () => {
    const b = new CircuitBreaker({ ...cfg, open_duration: 60_000 });
    for (let i = 0; i < 3; i++) b.release(b.tryAcquire()!, false);
    const ac = new AbortController();
    const p = b.acquire(ac.signal);
    ac.abort();
    expect(await p).toBeUndefined();
    b.dispose();
  });

  it('never blocks when disabled', () => {
    const b = new CircuitBreaker({ ...cfg, enabled: false });
    for (let i = 0; i < 10; i++) b.release(b.tryAcquire()!, false);
    expect(b.state).toBe('closed');
    expect(b.tryAcquire()).toBeDefined();
  });
});
