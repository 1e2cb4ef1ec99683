(function () {
  const MAX_BYTES = __MAX_BYTES__, MAX_FILES = __MAX_FILES__, TYPES = '__TYPES__';
  const GONE = 'The files attached earlier were removed (__IDLE__ idle, or to free server memory).';
  let shownId = null, shown = [];
  // New conversation (the button or the chat's trash icon) starts a new epoch: uploads begun in an
  // earlier one are stopped and their results forgotten, and the id being replaced (``replacing``)
  // is no longer the tab's, even while the hidden element still shows it
  let epoch = 0, replacing = null, staleRefusal = null;
  function convId() {
    const box = document.getElementById('attach-id');
    const id = box ? box.textContent.trim() : '';
    return /^[A-Za-z0-9_-]{16,}$/.test(id) ? id : null;
  }
  function current() { const id = convId(); return id && id !== replacing ? id : null; }
  function unavailable() {  // why the server could not open a conversation for this tab (all in use)
    const box = document.getElementById('attach-id');
    const text = box ? box.textContent.trim() : '';
    if (text === staleRefusal) return null;  // from before New conversation: the server's new answer is awaited
    staleRefusal = null;
    return text.startsWith('__UNAVAILABLE__') ? text.slice('__UNAVAILABLE__'.length) : null;
  }
  function api(id, rest) { return '/api/conversations/' + encodeURIComponent(id) + rest; }
  function zone() {
    const z = document.getElementById('attach-zone');
    if (z && !z.firstChild) {
      z.innerHTML = '<label class="attach-button" title="PDF, Markdown, text, HTML or JSON Lines"><svg aria-hidden="true" width="16" height="16" viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round"><path d="M21 11.5l-8.5 8.5a5 5 0 0 1-7-7l9-9a3.5 3.5 0 0 1 5 5l-9 9a2 2 0 0 1-3-3l8-8"/></svg>' +
        '<span>Attach files</span><input type="file" multiple id="attach-input" accept="' + TYPES + '"></label>' +
        '<span class="attach-hint">or drop them here: PDF, Markdown, text, HTML, JSON Lines; up to ' + MAX_FILES +
        ' files, ' + Math.round(MAX_BYTES / 1048576) + ' MB, answered in this conversation only</span>' +
        '<ul id="attached-list" aria-label="Attached files"></ul>' +
        '<ul id="attach-progress" aria-label="Files being attached"></ul>' +
        '<div id="attach-wait" role="status" aria-live="polite"></div>' +
        '<div id="attach-status" role="status" aria-live="polite"></div>';
      z.querySelector('input').addEventListener('change', function (e) {
        const files = Array.from(e.target.files || []); e.target.value = ''; send(files);
      });
    }
    return z;
  }
  function say(text, error) {
    zone();
    const s = document.getElementById('attach-status');
    if (!s) return;
    s.textContent = text || '';
    s.classList.toggle('error', !!error);
  }
  let changes = 0;  // lists the server sent after an attach or a removal: newer than any refresh under way
  function size(n) { return n >= 1048576 ? (n / 1048576).toFixed(1) + ' MB' : Math.max(1, Math.round(n / 1024)) + ' KB'; }
  function seconds(ms) { return (ms / 1000).toFixed(1) + ' s'; }
  function render(files) {
    zone();
    const list = document.getElementById('attached-list');
    if (!list) return;
    shown = files || [];
    list.textContent = '';
    shown.forEach(function (f) {
      const li = document.createElement('li');
      li.className = 'attached-file';
      const name = document.createElement('span');
      name.className = 'name';
      name.textContent = f.name;
      name.title = f.name + ' (' + f.type + ', ' + size(f.bytes) + (f.pages ? ', ' + f.pages + ' pages' : '') + ')';
      const remove = document.createElement('button');
      remove.type = 'button';
      remove.textContent = '×';
      remove.setAttribute('aria-label', 'Remove ' + f.name);
      remove.addEventListener('click', function () { drop(f); });
      li.append(name, remove);
      list.appendChild(li);
    });
    mention();
  }
  // the header and the "Sources loaded" panel say which attached files this conversation answers from
  function mention() {
    const names = shown.map(function (f) { return f.name; });
    const text = names.length ? 'This conversation also answers from ' + (names.length === 1 ? 'the attached file ' :
      'the ' + names.length + ' attached files: ') + names.join(', ') + '.' : '';
    [['intro', 'attached-in-use', 'p'], ['corpus', 'corpus-attached', 'div']].forEach(function (spot) {
      const host = document.getElementById(spot[0]);
      let note = document.getElementById(spot[1]);
      if (!names.length || !host) { if (note) note.remove(); return; }
      if (!note || !host.contains(note)) {
        if (note) note.remove();
        note = document.createElement(spot[2]);
        note.id = spot[1];
        host.appendChild(note);
      }
      if (spot[0] === 'corpus') {
        const shownText = 'Attached to this conversation (' + names.length + ' file' + (names.length === 1 ? '' : 's') + '): ';
        if (note.textContent !== shownText + names.join(', ')) {
          note.textContent = '';
          const b = document.createElement('strong');
          b.textContent = 'Attached to this conversation';
          note.append(b, ' (' + names.length + ' file' + (names.length === 1 ? '' : 's') + '): ' + names.join(', '));
        }
      } else if (note.textContent !== text) note.textContent = text;
    });
  }
  async function detail(r) {
    try { const b = r.body ? JSON.parse(r.body) : null; return b && typeof b.detail === 'string' ? b.detail : 'the server refused it (' + r.status + ')'; }
    catch (e) { return 'the server refused it (' + r.status + ')'; }
  }
  // ---- files being attached: each shows its bytes sent, then how long it has been read -------
  const jobs = [];  // {file, row, state, sent, started, readFrom, took, epoch}
  let ticking = null;
  function drawJob(job) {
    const row = job.row;
    const bar = row.querySelector('progress'), state = row.querySelector('.state');
    bar.max = Math.max(1, job.file.size);
    bar.value = job.state === 'waiting' ? 0 : job.state === 'sending' ? job.sent : job.file.size;
    let text;
    if (job.state === 'waiting') text = 'waiting';
    else if (job.state === 'sending') text = 'sending ' + size(job.sent) + ' of ' + size(job.file.size) +
      ' (' + Math.floor(100 * job.sent / Math.max(1, job.file.size)) + '%)';
    else if (job.state === 'reading') text = 'sent; reading it: ' + Math.floor((Date.now() - job.readFrom) / 1000) + ' s';
    else text = job.state;
    if (state.textContent !== text) state.textContent = text;
    bar.setAttribute('aria-label', job.file.name + ': ' + text);
  }
  function addJob(file, ep) {
    zone();
    const list = document.getElementById('attach-progress');
    const row = document.createElement('li');
    row.className = 'attach-job';
    const name = document.createElement('span');
    name.className = 'name';
    name.textContent = file.name;
    const bar = document.createElement('progress');
    const state = document.createElement('span');
    state.className = 'state';
    row.append(name, bar, state);
    if (list) list.appendChild(row);
    const job = {file: file, row: row, state: 'waiting', sent: 0, epoch: ep};
    jobs.push(job);
    drawJob(job);
    if (!ticking) ticking = setInterval(tick, 500);
    return job;
  }
  function endJob(job) {
    const i = jobs.indexOf(job);
    if (i >= 0) jobs.splice(i, 1);
    job.row.remove();
    if (!jobs.length) { clearInterval(ticking); ticking = null; }
    waitNote();
    if (!busy()) release();
  }
  function tick() { jobs.forEach(drawJob); waitNote(); }
  const uploads = new Set();  // requests under way, stopped by New conversation
  // one file to the conversation's id, its progress drawn as it goes; {status, body}, or null when
  // the server could not be reached, or 'stopped' when New conversation stopped it
  function upload(id, job) {
    return new Promise(function (done) {
      const x = new XMLHttpRequest();
      uploads.add(x);
      x.open('POST', api(id, '/files?filename=' + encodeURIComponent(job.file.name)));
      x.setRequestHeader('Content-Type', 'application/octet-stream');
      x.withCredentials = true;
      job.state = 'sending'; job.sent = 0; drawJob(job);
      x.upload.onprogress = function (e) { job.sent = e.loaded; drawJob(job); };
      x.upload.onload = function () { job.state = 'reading'; job.readFrom = Date.now(); drawJob(job); };
      x.onload = function () { uploads.delete(x); done({status: x.status, ok: x.status >= 200 && x.status < 300, body: x.responseText}); };
      x.onerror = function () { uploads.delete(x); done(null); };
      x.onabort = function () { uploads.delete(x); done('stopped'); };
      job.started = Date.now();
      x.send(job.file);
    });
  }
  let queue = Promise.resolve(), batches = 0;
  // the files belong to the conversation that is the tab's as they are picked or dropped
  function send(files) {
    const bound = {epoch: epoch, id: current()};
    const mine = files.map(function (f) { return addJob(f, bound.epoch); });
    batches++;
    queue = queue.then(function () { return sendAll(files, mine, bound); }).finally(function () {
      batches--; mine.forEach(endJob);
    });
    return queue;
  }
  function live(bound) { return bound.epoch === epoch; }
  // the server removed the tab's conversation (idle too long, or to free memory): the page asks
  // for a new one (the hidden renew button's event) and waits for its id
  async function renew(old) {
    const button = document.querySelector('#attach-renew button, button#attach-renew');
    if (!button) return null;
    button.click();
    for (let waited = 0; waited < 20000; waited += 100) {
      await new Promise(function (done) { setTimeout(done, 100); });
      const id = convId();
      if (id && id !== old) { shownId = id; render([]); return id; }
    }
    return null;
  }
  async function idFor(bound) {  // picked right after New conversation: the new id, once the server gave it
    for (let waited = 0; !bound.id && live(bound) && !unavailable() && waited < 20000; waited += 100) {
      await new Promise(function (done) { setTimeout(done, 100); });
      bound.id = current();
    }
    return live(bound) ? bound.id : null;
  }
  let sending = false;  // a renewed id is taken by sendAll itself, not by refresh
  async function sendAll(files, mine, bound) {
    sending = true;
    try { await sendEach(files, mine, bound); } finally { sending = false; }
  }
  async function sendEach(files, mine, bound) {
    let id = await idFor(bound);
    if (!live(bound)) return;  // New conversation meanwhile: these files were the earlier one's
    if (!id) {
      const why = unavailable();
      say(why ? 'Files cannot be attached now: ' + why + '. Questions are still answered from the sources.'
              : 'Attaching files is not ready yet; try again in a moment.', true);
      return;
    }
    if (id !== shownId) { shownId = id; window.__attachCleared = false; }  // the list drawn next is this id's
    const problems = [], done = [];
    let renewed = false, hadFiles = false;
    for (let i = 0; i < files.length; i++) {
      const f = files[i], job = mine[i];
      if (!live(bound)) return;
      if (f.size > MAX_BYTES) {
        problems.push(f.name + ': ' + size(f.size) + ' is over the ' + size(MAX_BYTES) + ' limit');
        job.state = 'refused'; drawJob(job); continue;
      }
      say('Attaching ' + f.name + '…');
      let r;
      for (let attempt = 0; attempt < 2; attempt++) {
        r = await upload(id, job);
        if (r === 'stopped' || !live(bound)) return;  // New conversation: forgotten, never shown
        if (!r || r.status !== 404 || renewed) break;
        const check = await fetch(api(id, '/files'), {credentials: 'same-origin'}).catch(function () { return null; });
        if (!live(bound) || convId() !== id) return;  // not the tab's conversation any more
        if (!check || check.status !== 404) break;  // the conversation is there: not a removal
        hadFiles = shown.length > 0;
        const fresh = await renew(id);
        if (!fresh || !live(bound)) break;
        id = fresh; bound.id = fresh; renewed = true;
      }
      if (!live(bound)) return;
      if (!r) { problems.push(f.name + ': the server could not be reached'); continue; }
      if (!r.ok) { problems.push(await detail(r)); continue; }
      const took = Date.now() - (job.readFrom || job.started);
      done.push(f.name + ' (read in ' + seconds(took) + ')');
      render(JSON.parse(r.body).files); changes++;
    }
    if (!live(bound)) return;
    const gone = (renewed && hadFiles ? GONE + ' ' : '') + (askedWithout.length ? 'The question asked before ' +
      askedWithout.join(', ') + (askedWithout.length === 1 ? ' was' : ' were') + ' in was answered without ' +
      (askedWithout.length === 1 ? 'it' : 'them') + '. ' : '');
    askedWithout = [];
    const ok = done.length ? 'Attached ' + done.join(', ') + '. ' : '';
    if (problems.length) say(gone + ok + problems.join(' · '), true);
    else say(files.length ? gone + 'Attached. ' + (done.length ? done.join(', ') + '. ' : '') +
      'Questions in this conversation are answered from these files and the sources.' : '');
  }
  // ---- a question sent while files are being attached waits for them ------------------------
  let held = null, releasing = false, askedWithout = [];
  function busy() { return jobs.some(function (j) { return j.epoch === epoch; }); }
  window.__attachBusy = busy;
  function waiting() { return jobs.filter(function (j) { return j.epoch === epoch; }).map(function (j) { return j.file.name; }); }
  function waitNote() {
    zone();
    const note = document.getElementById('attach-wait');
    if (!note) return;
    if (!held) { if (note.firstChild) note.textContent = ''; return; }
    const names = waiting();
    const text = 'Your question waits for ' + names.join(', ') + ' to be attached; it is sent as soon as ' +
      (names.length === 1 ? 'it is' : 'they are') + ' read.';
    let span = note.querySelector('.text');
    if (!span) {
      note.textContent = '';
      span = document.createElement('span');
      span.className = 'text';
      const now = document.createElement('button');
      now.type = 'button';
      now.id = 'ask-without';
      now.textContent = 'Ask now, without them';
      now.addEventListener('click', function () { release(waiting()); });
      note.append(span, ' ', now);
    }
    if (span.textContent !== text) span.textContent = text;
  }
  function release(without) {
    const target = held;
    held = null;
    waitNote();
    if (!target || !target.isConnected) return;
    const missing = without && without.length ? without : [];
    askedWithout = missing.slice();
    if (missing.length) say('Asked without ' + missing.join(', ') + ', still being attached: that answer comes from the ' +
      'sources and the files attached before. The files are added when read.');
    releasing = true;
    try { target.click(); } finally { releasing = false; }
  }
  function hold(e, target) {
    if (releasing || !busy()) return;
    e.preventDefault();
    e.stopImmediatePropagation();
    held = target;
    waitNote();
  }
  // on the window, in the capture phase: before the page's own listeners and Gradio's
  window.addEventListener('keydown', function (e) {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing && e.target.closest && e.target.closest('#question')) {
      const ask = document.getElementById('ask');
      if (ask) hold(e, ask);
    }
  }, true);
  window.addEventListener('click', function (e) {
    const target = e.target.closest && (e.target.closest('#ask') || e.target.closest('#examples button'));
    if (target) hold(e, target);
  }, true);
  async function drop(f) {
    const id = current();
    if (!id) return;
    let r;
    try {
      r = await fetch(api(id, '/files/' + encodeURIComponent(f.id)), {method: 'DELETE', credentials: 'same-origin'});
      if (r.status === 404 && (await fetch(api(id, '/files'), {credentials: 'same-origin'})).status === 404) {
        render([]); changes++; say(GONE); return;
      }
    } catch (e) { say(f.name + ': the server could not be reached', true); return; }
    if (!r.ok) { say(await detail({status: r.status, body: await r.text()}), true); return; }
    render((await r.json()).files); changes++;
    say(f.name + ' removed.');
  }
  async function refresh() {
    const id = convId();
    if (id && id !== replacing) replacing = null;  // the new conversation's id is in
    if (!id || id === shownId || sending || replacing) return;
    const had = shownId !== null && shown.length > 0;
    shownId = id;
    render([]);
    say(had && !window.__attachCleared ? GONE : '');
    window.__attachCleared = false;
    const seen = changes;
    try {
      const r = await fetch(api(id, '/files'), {credentials: 'same-origin'});
      const files = r.ok ? (await r.json()).files : null;
      // an attach or removal answered meanwhile has the newer list
      if (files && convId() === id && seen === changes && !sending) render(files);
    } catch (e) { /* shown on the next attach */ }
  }
  // New conversation (its button or the chat's trash icon): uploads under way are stopped and
  // whatever they bring is dropped; a question waiting for them stays in the box
  document.addEventListener('click', function (e) {
    if (e.target.closest && (e.target.closest('#clear') || e.target.closest('#chat button[aria-label*="Clear"]'))) {
      epoch++;
      replacing = convId();
      const box = document.getElementById('attach-id');
      staleRefusal = box && box.textContent.trim().startsWith('__UNAVAILABLE__') ? box.textContent.trim() : null;
      window.__attachCleared = true;
      uploads.forEach(function (x) { x.abort(); });
      held = null; askedWithout = [];
      jobs.slice().forEach(endJob);
      render([]); say('');
    }
  }, true);
  // drag and drop anywhere on the page
  let depth = 0;
  function hasFiles(e) { return e.dataTransfer && Array.from(e.dataTransfer.types || []).indexOf('Files') >= 0; }
  document.addEventListener('dragenter', function (e) {
    if (!hasFiles(e) || !document.getElementById('attach-zone')) return;
    depth++; document.body.classList.add('dragging-files');
  });
  document.addEventListener('dragleave', function (e) {
    if (!hasFiles(e)) return;
    depth = Math.max(0, depth - 1);
    if (!depth) document.body.classList.remove('dragging-files');
  });
  document.addEventListener('dragover', function (e) {
    if (hasFiles(e) && document.getElementById('attach-zone')) { e.preventDefault(); e.dataTransfer.dropEffect = 'copy'; }
  });
  document.addEventListener('drop', function (e) {
    depth = 0; document.body.classList.remove('dragging-files');
    if (!hasFiles(e) || !document.getElementById('attach-zone')) return;
    e.preventDefault();
    send(Array.from(e.dataTransfer.files || []));
  });
  window.__attach = send;
  new MutationObserver(function () {
    clearTimeout(window.__attachTick);
    window.__attachTick = setTimeout(function () { zone(); refresh(); mention(); }, 50);
  }).observe(document.documentElement, {childList: true, subtree: true});
  setInterval(refresh, 1000);  // the id changes without a DOM change when only the hidden box is updated
})();
