import { signal } from '@preact/signals';
import { useEffect, useRef } from 'preact/hooks';
import { streamOrders } from './sse.js';
import type { Order } from './types.js';

/** Whether the live stream of the page on screen is connected (shown in the header). */
export const liveState = signal<'live' | 'polling' | 'stopped' | 'off'>('off');
/** Why the server refused the page's stream for good (e.g. admin rights ended), shown while that page is open. */
export const liveStoppedReason = signal<string | null>(null);

const POLL_MS = 3000;

/**
 * Keeps a view current: order changes arrive over SSE while the stream is up; while it is not
 * (a proxy that buffers, a restart, an older server), `poll` reloads the view every few seconds,
 * so the page never goes stale silently. A null path stops it (e.g. once an order is final).
 */
export function useLiveOrders(path: string | null, onOrder: (order: Order) => void, poll: () => void): void {
  // The stream lives as long as its path; the callbacks are the latest render's.
  const handlers = useRef({ onOrder, poll });
  handlers.current = { onOrder, poll };
  useEffect(() => {
    if (!path) return;
    const controller = new AbortController();
    let timer: ReturnType<typeof setInterval> | undefined;
    let streaming = false;
    const reload = () => handlers.current.poll();
    const onConnected = (connected: boolean) => {
      if (controller.signal.aborted) return;
      liveState.value = connected ? 'live' : 'polling';
      if (connected) {
        clearInterval(timer);
        timer = undefined;
        // Once more as the stream comes up: a list stream sends only what changes from now on, so
        // a change between the view's last read and now (or a read that failed) is caught here.
        if (!streaming) reload();
      } else {
        timer ??= setInterval(reload, POLL_MS);
      }
      streaming = connected;
    };
    // Refused for good: neither the stream nor a poll would be let in again, so both stop.
    const onRefused = (reason: string) => {
      if (controller.signal.aborted) return;
      clearInterval(timer);
      timer = undefined;
      liveState.value = 'stopped';
      liveStoppedReason.value = `Live updates stopped: ${reason}.`;
    };
    void streamOrders({ path, onOrder: (order) => handlers.current.onOrder(order), onConnected, onRefused, signal: controller.signal });
    return () => {
      controller.abort();
      clearInterval(timer);
      liveState.value = 'off';
      liveStoppedReason.value = null;
    };
  }, [path]);
}
