// A real @supabase/realtime-js 1.7.5 client driven by the Go end-to-end tests
// in test/e2e. It prints one JSON object per line on stdout for everything it
// observes and reads commands as JSON lines on stdin.
//
//   node v1client.mjs '{"url":"ws://127.0.0.1:4000/socket", "params":{},
//                       "heartbeatIntervalMs":30000,
//                       "channels":[{"topic":"realtime:*","events":["*"]}]}'
//
// Output (every line has recv_ms, the wall clock in ms with sub-ms precision):
//   {kind:"open"} {kind:"close",code,reason,wasClean} {kind:"error",message}
//   {kind:"frame",topic,event,ref,payload}     every message the socket receives
//   {kind:"joined",topic,join_ref} {kind:"join_error",topic,response} {kind:"join_timeout",topic}
//   {kind:"event",topic,binding,event,ref,payload}   a channel callback fired
//   {kind:"left",topic} {kind:"leave_timeout",topic}
// Commands:
//   {"cmd":"join","topic":"…","events":["UPDATE"],"params":{"user_token":"…"}}  {"cmd":"leave","topic":"…"}  {"cmd":"exit"}
import readline from 'node:readline';
import { RealtimeClient } from 'realtime-js-v1';

const cfg = JSON.parse(process.argv[2]);
const now = () => performance.timeOrigin + performance.now();
// stdout is a pipe, which Node writes synchronously on Linux: nothing is lost on exit.
const out = (o) => process.stdout.write(JSON.stringify({ ...o, recv_ms: now() }) + '\n');

const opts = { params: cfg.params ?? {} };
if (cfg.heartbeatIntervalMs) opts.heartbeatIntervalMs = cfg.heartbeatIntervalMs;
const socket = new RealtimeClient(cfg.url, opts);
socket.onOpen(() => out({ kind: 'open' }));
socket.onClose((e) => out({ kind: 'close', code: e?.code, reason: e?.reason, wasClean: e?.wasClean }));
socket.onError((e) => out({ kind: 'error', message: String(e?.message ?? e) }));
socket.onMessage((m) => out({ kind: 'frame', topic: m.topic, event: m.event, ref: m.ref ?? null, payload: m.payload }));

const channels = new Map();

function join({ topic, events = ['*'], params = {} }) {
  const ch = socket.channel(topic, params);
  for (const binding of events) {
    ch.on(binding, (payload, ref) => out({
      kind: 'event', topic, binding,
      event: binding === '*' ? payload?.type : binding,
      ref: ref ?? null, payload,
    }));
  }
  ch.subscribe()
    .receive('ok', () => out({ kind: 'joined', topic, join_ref: ch.joinRef() }))
    .receive('error', (response) => out({ kind: 'join_error', topic, response }))
    .receive('timeout', () => out({ kind: 'join_timeout', topic }));
  channels.set(topic, ch);
}

function leave({ topic }) {
  const ch = channels.get(topic);
  if (!ch) return out({ kind: 'error', message: `leave: not joined to ${topic}` });
  channels.delete(topic);
  ch.unsubscribe()
    .receive('ok', () => out({ kind: 'left', topic }))
    .receive('timeout', () => out({ kind: 'leave_timeout', topic }));
}

socket.connect();
(cfg.channels ?? []).forEach(join);

const exit = () => socket.disconnect().then(() => process.exit(0));
const rl = readline.createInterface({ input: process.stdin });
rl.on('line', (text) => {
  let c;
  try {
    c = JSON.parse(text);
  } catch (err) {
    return out({ kind: 'error', message: `bad command ${text}: ${err.message}` });
  }
  switch (c.cmd) {
    case 'join': return join(c);
    case 'leave': return leave(c);
    case 'exit': return exit();
    default: return out({ kind: 'error', message: `unknown command ${text}` });
  }
});
rl.on('close', exit);
