export { eventsRoutes, orderEventsQuery } from './events.routes.js';
export { createEventHub, type EventHub, type EventHubSettings } from './event-hub.js';
export { createOrderStreams, type OrderStreams } from './order-streams.js';
export { createEventsPass, relayEventsOnce, type OnEventsAppended } from './events-relay.js';
export { ORDER_EVENT_TYPES, type OrderEvent, type OrderEventType } from './order-event.js';
export { eventsSubscriptions } from './events.subscriptions.js';
export { awaitSequencer, pruneEvents } from './order-events.repository.js';
export { realignEventPositions, type PositionMark } from './event-positions.js';
