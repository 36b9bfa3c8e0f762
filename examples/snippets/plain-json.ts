// A plain-JSON app without tRPC: typed messages (any Standard Schema; zod here), one permission
// per message type, rooms with crossws pub/sub. npx tsx plain-json.ts
import { createGuard } from 'wsguard';
import { serve } from 'wsguard/adapters/node';
import { z } from 'zod';

const secret = process.env.JWT_SECRET;
if (!secret) throw new Error('set JWT_SECRET to 32 or more random bytes (openssl rand -hex 32)');

const Room = z.string().regex(/^[a-z0-9-]{1,32}$/);
const Message = z.discriminatedUnion('type', [
  z.object({ type: z.literal('chat.join'), room: Room }),
  z.object({ type: z.literal('chat.send'), room: Room, text: z.string().trim().min(1).max(500) }),
  z.object({ type: z.literal('admin.kick'), userId: z.string().min(1).max(64) }),
]);
type Message = z.infer<typeof Message>;

const guard = createGuard({
  origins: ['https://app.example.com'],
  jwt: { algorithms: ['HS256'], secret },
  tickets: true,
  messages: {
    // A frame that fails the schema never reaches the app: the client gets a BAD_REQUEST reply.
    schema: Message,
    // The message's type is the permission it needs; a missing one is a FORBIDDEN reply.
    permission: (message) => (message as Message).type,
  },
  permissions: { roles: { user: ['chat.*'], admin: ['chat.*', 'admin.*'] } },
});

const server = await serve({
  guard,
  port: Number(process.env.PORT ?? 8787),
  hooks: {
    message(peer, _raw, { value, connection }) {
      const message = value as Message; // validated and permitted by the guard
      const user = connection.principal?.sub ?? 'anonymous';
      switch (message.type) {
        case 'chat.join':
          peer.subscribe(message.room);
          return peer.send(JSON.stringify({ type: 'joined', room: message.room }));
        case 'chat.send': {
          const out = { type: 'message', room: message.room, user, text: message.text };
          peer.publish(message.room, JSON.stringify(out)); // everyone else in the room
          return peer.send(JSON.stringify(out)); // and the sender
        }
        case 'admin.kick':
          return peer.send(JSON.stringify({ type: 'kicked', closed: guard.kick(message.userId) }));
      }
    },
  },
});
console.log(`guarded WebSocket on ${server.url.replace(/^http/, 'ws')}/ws\n  ${guard.describe()}`);
