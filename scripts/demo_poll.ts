// The README's poll demo: a chat server built on one poller. Many clients
// connect and stay idle; the poller wakes only the ones that speak, and each
// message is broadcast to everyone else. Idle members cost no callback and no
// read buffer (buffers come from a small pool, only while a member speaks).
//   deno run -A scripts/demo_poll.ts | bun scripts/demo_poll.ts | node npm/esm/scripts/demo_poll.js
import {
  type Conn,
  connect,
  createPoller,
  Event,
  handleListener,
  handleRead,
  listen,
  runtime,
} from "../mod.ts";

const CLIENTS = 200;
const enc = new TextEncoder();
const dec = new TextDecoder();

// ---- the server
const listener = await listen({ hostname: "127.0.0.1", port: 0 });
const port = listener.addr.transport === "tcp" ? listener.addr.port : 0;
const poller = createPoller();
const members = new Set<Conn>();
const pool: Uint8Array[] = [];
let readCallbacks = 0;
let changed: () => void = () => {};

function join(conn: Conn): void {
  members.add(conn);
  const desc = handleRead(conn);
  poller.start(desc, async (ev) => {
    // Hang-ups first, as easygo's chat does: a member that reset (closed with
    // broadcasts unread) comes with Read|ReadHup|Hup|Err, and its read throws.
    if (
      (ev & (Event.ReadHup | Event.Hup | Event.Err | Event.PollerClosed)) !== 0
    ) {
      if ((ev & Event.PollerClosed) === 0) poller.stop(desc);
      conn.close();
      members.delete(conn);
    } else if ((ev & Event.Read) !== 0) {
      readCallbacks++;
      const buf = pool.pop() ?? new Uint8Array(4096);
      try {
        const n = await conn.read(buf);
        if (n !== null) {
          const msg = buf.slice(0, n);
          await Promise.all(
            [...members].filter((m) => m !== conn).map((m) => m.write(msg)),
          );
        }
      } finally {
        pool.push(buf);
      }
    }
    changed();
  });
  changed();
}

// easygo's chat accepts the same way: the listener is one-shot, re-armed
// after each accept.
const accepting = handleListener(listener, Event.Read | Event.OneShot);
poller.start(accepting, async (ev) => {
  if ((ev & Event.Read) === 0) return;
  join(await listener.accept());
  poller.resume(accepting);
});

function until(cond: () => boolean): Promise<void> {
  return new Promise((resolve) => {
    const check = () => {
      if (cond()) resolve();
    };
    changed = check;
    check();
  });
}

// ---- the clients
const clients: Conn[] = [];
for (let i = 0; i < CLIENTS; i++) {
  clients.push(await connect({ hostname: "127.0.0.1", port }));
}
await until(() => members.size === CLIENTS);
console.log(
  `[${runtime.name}] chat on 127.0.0.1:${port}: ${CLIENTS} members, all registered with one poller`,
);

const [bob, alice, carol, dave] = clients;
const lines: string[] = [];
const reading = (async () => {
  const buf = new Uint8Array(4096);
  let text = "";
  while (lines.length < 3) {
    const n = await bob.read(buf);
    if (n === null) break;
    text += dec.decode(buf.subarray(0, n));
    const parts = text.split("\n");
    text = parts.pop()!;
    lines.push(...parts);
  }
})();
for (
  const [who, said] of [[alice, "alice: hello"], [carol, "carol: hi all"], [
    dave,
    "dave: bye",
  ]]
) {
  await (who as Conn).write(enc.encode(`${said}\n`));
  await until(() => readCallbacks >= lines.length + 1);
}
await reading;
console.log(
  `[${runtime.name}] bob heard: ${lines.map((l) => JSON.stringify(l)).join(", ")}`,
);
console.log(
  `[${runtime.name}] read callbacks: ${readCallbacks} for ${CLIENTS} members (idle members cost none)`,
);

// Everyone leaves: the server sees each hang-up and drops the member.
for (const c of clients) c.close();
await until(() => members.size === 0);
console.log(`[${runtime.name}] all members left; members now: ${members.size}`);
await poller.close();
await listener.close();
