// The status board: the initial rows come from the demo's small JSON API,
// every later change only from the gateway, through supabase-js's realtime
// client (postgres_changes on public.service). The buttons change rows
// through the API, never the page directly, so what moves is what
// PostgreSQL committed.
'use strict';

const columns = new Map([...document.querySelectorAll('.column')].map((c) => [Number(c.dataset.status), c.querySelector('ul')]));
const statusEl = document.getElementById('status');
const lastEl = document.getElementById('last');

function setStatus(text, cls) {
  statusEl.textContent = text;
  statusEl.className = 'status ' + cls;
  document.body.dataset.realtime = cls;
}

async function api(method, path, body) {
  const res = await fetch(path, { method, headers: { 'content-type': 'application/json' }, body: body && JSON.stringify(body) });
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
  return res.status === 204 ? null : res.json();
}

function card(row) {
  let li = document.getElementById('service-' + row.id);
  if (!li) {
    li = document.createElement('li');
    li.id = 'service-' + row.id;
    li.className = 'card';
    li.innerHTML = '<span><span class="name"></span><span class="id"></span></span><span class="moves"><button data-d="-1" title="back">←</button><button data-d="1" title="forward">→</button></span>';
    li.querySelector('.moves').addEventListener('click', (e) => {
      const d = Number(e.target.dataset.d);
      const status = Number(li.dataset.status) + d;
      if (d && columns.has(status)) api('POST', `api/services/${row.id}/move`, { status_id: status }).catch(showError);
    });
  }
  li.querySelector('.name').textContent = row.name;
  li.querySelector('.id').textContent = '#' + row.id;
  li.dataset.status = row.status_id;
  return li;
}

function place(row, flash) {
  const ul = columns.get(Number(row.status_id));
  if (!ul) return;
  const li = card(row);
  ul.appendChild(li);
  if (flash) {
    li.classList.remove('flash');
    void li.offsetWidth; // restart the animation
    li.classList.add('flash');
  }
}

function showError(err) {
  lastEl.textContent = String(err.message || err);
}

async function start() {
  const cfg = await api('GET', 'config.json');
  document.getElementById('psql').textContent = cfg.psql;
  for (const row of await api('GET', 'api/services')) place(row, false);

  const client = supabase.createClient(cfg.url, cfg.apikey);
  client
    .channel('status-board')
    .on('postgres_changes', { event: '*', schema: 'public', table: 'service' }, (change) => {
      if (change.eventType === 'DELETE') {
        document.getElementById('service-' + change.old.id)?.remove();
      } else {
        place(change.new, true);
      }
      lastEl.textContent = `${change.eventType} of #${(change.new && change.new.id) || change.old.id} committed at ${change.commit_timestamp}`;
    })
    .subscribe((status, err) => {
      if (status === 'SUBSCRIBED') setStatus('live', 'live');
      else if (status === 'CHANNEL_ERROR' || status === 'TIMED_OUT') setStatus(`${status}${err ? ': ' + err.message : ''}`, 'error');
      else setStatus(status.toLowerCase(), 'connecting');
    });
}

document.getElementById('add').addEventListener('click', () => {
  const names = ['Reboque', 'Bateria', 'Pane Seca', 'Troca de Luz', 'Chaveiro', 'Pneu Furado'];
  api('POST', 'api/services', { name: names[Math.floor(Math.random() * names.length)] }).catch(showError);
});

// The simulator moves a random card one column on, through the API.
let timer = null;
document.getElementById('simulate').addEventListener('change', (e) => {
  clearInterval(timer);
  if (!e.target.checked) return;
  timer = setInterval(() => {
    const cards = [...document.querySelectorAll('.card')];
    if (!cards.length) return;
    const li = cards[Math.floor(Math.random() * cards.length)];
    const next = (Number(li.dataset.status) % 3) + 1;
    api('POST', `api/services/${li.id.replace('service-', '')}/move`, { status_id: next }).catch(showError);
  }, 1500);
});

start().catch((err) => { setStatus('error', 'error'); showError(err); });
