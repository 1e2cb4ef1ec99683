(function () {
  const MAX_BYTES = __MAX_BYTES__, MAX_FILES = __MAX_FILES__, TYPES = '__TYPES__';
  const GONE = 'The files attached earlier were removed (__IDLE__ idle, or to free server memory).';
  let shownId = null, shown = [];
  function convId() {
    const box = document.getElementById('attach-id');
    const id = box ? box.textContent.trim() : '';
    return /^[A-Za-z0-9_-]{16,}$/.test(id) ? id : null;
  }
  function api(id, rest) { return '/api/conversations/' + encodeURIComponent(id) + rest; }
  function zone() {
    const z = document.getElementById('attach-zone');
    if (z && !z.firstChild) {
      z.innerHTML = '<label class="attach-button" title="PDF, Markdown, text, HTML or JSON Lines"><svg aria-hidden="true" width="16" height="16" viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round"><path d="M21 11.5l-8.5 8.5a5 5 0 0 1-7-7l9-9a3.5 3.5 0 0 1 5 5l-9 9a2 2 0 0 1-3-3l8-8"/></svg>' +
        '<span>Attach files</span><input type="file" multiple id="attach-input" accept="' + TYPES + '"></label>' +
        '<span class="attach-hint">or drop them here: PDF, Markdown, text, HTML, JSON Lines; up to ' + MAX_FILES +
        ' files, ' + Math.round(MAX_BYTES / 1048576) + ' MB, answered in this conversation only</span>' +
        '<ul id="attached-list" aria-label="Attached files"></ul><div id="attach-status" role="status" aria-live="polite"></div>';
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
  }
  async function detail(r) {
    try { const b = await r.json(); return typeof b.detail === 'string' ? b.detail : 'the server refused it (' + r.status + ')'; }
    catch (e) { return 'the server refused it (' + r.status + ')'; }
  }
  let queue = Promise.resolve();
  function send(files) { queue = queue.then(function () { return sendAll(files); }); return queue; }
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
  let sending = false;  // a renewed id is taken by sendAll itself, not by refresh
  async function sendAll(files) {
    sending = true;
    try { await sendEach(files); } finally { sending = false; }
  }
  async function sendEach(files) {
    let id = convId();
    if (!id) { say('Attaching files is not ready yet; try again in a moment.', true); return; }
    if (id !== shownId) { shownId = id; window.__attachCleared = false; }  // the list drawn next is this id's
    const problems = [];
    let renewed = false, hadFiles = false;
    for (const f of files) {
      if (f.size > MAX_BYTES) { problems.push(f.name + ': ' + size(f.size) + ' is over the ' + size(MAX_BYTES) + ' limit'); continue; }
      say('Attaching ' + f.name + '…');
      let r;
      for (let attempt = 0; attempt < 2; attempt++) {
        try {
          r = await fetch(api(id, '/files?filename=' + encodeURIComponent(f.name)),
            {method: 'POST', body: f, headers: {'Content-Type': 'application/octet-stream'}, credentials: 'same-origin'});
        } catch (e) { r = null; break; }
        if (r.status !== 404 || renewed) break;
        const check = await fetch(api(id, '/files'), {credentials: 'same-origin'}).catch(function () { return null; });
        if (!check || check.status !== 404) break;  // the conversation is there: not a removal
        hadFiles = shown.length > 0;
        const fresh = await renew(id);
        if (!fresh) break;
        id = fresh; renewed = true;
      }
      if (!r) { problems.push(f.name + ': the server could not be reached'); continue; }
      if (!r.ok) { problems.push(await detail(r)); continue; }
      render((await r.json()).files); changes++;
    }
    const gone = renewed && hadFiles ? GONE + ' ' : '';
    if (problems.length) say(gone + problems.join(' · '), true);
    else say(files.length ? gone + 'Attached. Questions in this conversation are answered from these files and the sources.' : '');
  }
  async function drop(f) {
    const id = convId();
    if (!id) return;
    let r;
    try {
      r = await fetch(api(id, '/files/' + encodeURIComponent(f.id)), {method: 'DELETE', credentials: 'same-origin'});
      if (r.status === 404 && (await fetch(api(id, '/files'), {credentials: 'same-origin'})).status === 404) {
        render([]); changes++; say(GONE); return;
      }
    } catch (e) { say(f.name + ': the server could not be reached', true); return; }
    if (!r.ok) { say(await detail(r), true); return; }
    render((await r.json()).files); changes++;
    say(f.name + ' removed.');
  }
  async function refresh() {
    const id = convId();
    if (!id || id === shownId || sending) return;
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
  document.addEventListener('click', function (e) {
    if (e.target.closest && e.target.closest('#clear')) { window.__attachCleared = true; render([]); say(''); }
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
    window.__attachTick = setTimeout(function () { zone(); refresh(); }, 50);
  }).observe(document.documentElement, {childList: true, subtree: true});
  setInterval(refresh, 1000);  // the id changes without a DOM change when only the hidden box is updated
})();
