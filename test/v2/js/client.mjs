// A realtime-js 2.x (or supabase-js) client driven by the Go tests: it
// prints one JSON line per observable event and takes commands as JSON
// lines on stdin. Usage: node client.mjs '<config json>'
//   config: {url, lib: "2119" | "288" | "supabase", apikey, accessToken (supabase only)}
//   commands: {cmd:"subscribe", name, config, bindings:[{event,schema,table,filter}], broadcast:[events], presence:bool}
//             {cmd:"send", name, event, payload}   {cmd:"track", name, payload}
//             {cmd:"remove", name}                 {cmd:"setAuth", token}   {cmd:"exit"}
//             {cmd:"httpSend", name, event, payload, binary?, persist?}   (REST: /api/broadcast/{topic}/events/{event})
//             send and httpSend take persist (true or {ttl}) to store the message for replay
import readline from 'node:readline';
import WebSocket from 'ws';

const cfg = JSON.parse(process.argv[2]);
const out = (o) => process.stdout.write(JSON.stringify({ ...o, recv_ms: performance.timeOrigin + performance.now() }) + '\n');

let client;
if (cfg.lib === 'supabase') {
  const { createClient } = await import('@supabase/supabase-js');
  // accessToken: the signed-in user's JWT, as an app with its own auth
  // provider hands it to supabase-js; every channel joins with it.
  const opts = { realtime: { transport: WebSocket } };
  if (cfg.accessToken) opts.accessToken = async () => cfg.accessToken;
  client = createClient(cfg.url, cfg.apikey, opts);
} else {
  const { RealtimeClient } = await import(cfg.lib === '288' ? 'realtime-js-288' : 'realtime-js-2119');
  client = new RealtimeClient(cfg.url, { params: { apikey: cfg.apikey }, transport: WebSocket });
}
const channels = new Map();

function subscribe(c) {
  const ch = client.channel(c.name, { config: c.config || {} });
  (c.bindings || []).forEach((b, i) => {
    ch.on('postgres_changes', b, (p) => out({ kind: 'pg', name: c.name, binding: i, type: p.eventType, new: p.new, old: p.old, errors: p.errors, commit_timestamp: p.commit_timestamp }));
  });
  for (const ev of c.broadcast || []) {
    ch.on('broadcast', { event: ev }, (p) => out({ kind: 'broadcast', name: c.name, event: p.event, payload: p.payload instanceof ArrayBuffer ? { bytes: Array.from(new Uint8Array(p.payload)) } : p.payload, meta: p.meta }));
  }
  if (c.presence) {
    ch.on('presence', { event: 'sync' }, () => out({ kind: 'presence', name: c.name, state: ch.presenceState() }));
  }
  ch.on('system', {}, (p) => out({ kind: 'system', name: c.name, payload: p }));
  ch.subscribe((status, err) => out({ kind: 'status', name: c.name, status, error: err ? String(err.message || err) : null }));
  channels.set(c.name, ch);
}

const rl = readline.createInterface({ input: process.stdin });
rl.on('line', async (line) => {
  const c = JSON.parse(line);
  const ch = channels.get(c.name);
  switch (c.cmd) {
    case 'subscribe': subscribe(c); break;
    case 'send': out({ kind: 'sent', name: c.name, result: await ch.send({ type: 'broadcast', event: c.event, payload: c.payload, ...(c.persist ? { persist: c.persist } : {}) }) }); break;
    case 'track': out({ kind: 'tracked', name: c.name, result: await ch.track(c.payload) }); break;
    case 'setAuth': await (client.realtime ?? client).setAuth(c.token); out({ kind: 'auth' }); break;
    case 'remove': out({ kind: 'removed', name: c.name, result: await client.removeChannel(ch) }); break;
    case 'httpSend':
      try { out({ kind: 'httpSent', name: c.name, result: await ch.httpSend(c.event, c.binary ? new Uint8Array(c.payload) : c.payload, c.persist ? { persist: c.persist } : {}) }); }
      catch (e) { out({ kind: 'httpSent', name: c.name, error: String(e.message || e) }); }
      break;
    case 'exit': process.exit(0);
  }
});
rl.on('close', () => process.exit(0));
