(function () {
  const LIMIT = __LIMIT__;
  function messages() {
    return Array.from(document.querySelectorAll('#chat [data-testid="bot"], #chat [data-testid="user"]'));
  }
  function sourcesFor(answer) {
    const all = messages();
    for (let j = all.indexOf(answer) + 1; j < all.length && all[j].getAttribute('data-testid') === 'bot'; j++) {
      const group = all[j].querySelector('.thought-group');
      if (group) return group;
    }
    return null;
  }
  function numberOf(cite) {
    const m = /\[(\d+)\]/.exec(cite.firstChild ? cite.firstChild.textContent : '');
    return m ? m[1] : null;
  }
  function reveal(anchor) {
    const block = anchor.parentElement;
    block.setAttribute('tabindex', '-1');
    block.scrollIntoView({block: 'start'});
    block.focus({preventScroll: true});
    block.classList.add('flash');
    setTimeout(function () { block.classList.remove('flash'); }, 1600);
    // the panel may still be opening (its height animating, the chat redrawing): scroll again
    // once it has settled if the source is not in view by then
    [120, 350, 700].forEach(function (ms) {
      setTimeout(function () {
        if (!block.isConnected) return;
        const r = block.getBoundingClientRect();
        if (r.top < 0 || r.top >= window.innerHeight - 20) block.scrollIntoView({block: 'start'});
      }, ms);
    });
  }
  function open(cite) {
    const n = numberOf(cite), answer = cite.closest('[data-testid="bot"]');
    document.body.classList.add('cite-quiet');  // the chat may redraw the cite: the body keeps the state
    const group = n && answer ? sourcesFor(answer) : null;
    if (!group) return;
    const title = group.querySelector('.title');
    if (title && !title.classList.contains('expanded')) title.click();
    let tries = 0;
    (function look() {
      const anchor = Array.from(group.querySelectorAll('.src-anchor')).find(function (a) { return a.id.endsWith('-' + n); });
      if (anchor) reveal(anchor); else if (++tries < 120) requestAnimationFrame(look);
    })();
  }
  function place(cite) {
    const pop = cite.querySelector('.cite-pop');
    if (!pop) return;
    const r = cite.getBoundingClientRect(), vw = document.documentElement.clientWidth, vh = window.innerHeight;
    pop.style.maxHeight = Math.max(120, vh - 16) + 'px';
    const w = pop.offsetWidth, h = pop.offsetHeight;
    let left = Math.min(Math.max(8, r.left), vw - w - 8), top = r.bottom + 6;
    if (top + h > vh - 8) top = r.top - h - 6 >= 8 ? r.top - h - 6 : Math.max(8, vh - h - 8);
    pop.style.left = Math.max(8, left) + 'px';
    pop.style.top = top + 'px';
  }
  document.addEventListener('click', function (e) {
    const copy = e.target.closest && e.target.closest('#chat button[aria-label="Copy message"]');
    if (copy) {
      let row = copy.closest('.message-buttons');
      row = row && row.previousElementSibling;
      while (row && !row.classList.contains('message-row')) row = row.previousElementSibling;
      const text = row && row.querySelector('.copy-text');
      if (text) {
        e.preventDefault(); e.stopPropagation();
        const plain = Array.from(text.querySelectorAll('.copy-line')).map(function (l) { return l.textContent.trim(); }).join('\n');
        if (navigator.clipboard) navigator.clipboard.writeText(plain);
        window.__lastCopied = plain;
        copy.setAttribute('title', 'Copied');
        return;
      }
    }
    const cite = e.target.closest && e.target.closest('#chat .cite');
    if (cite && !e.target.closest('.cite-pop')) { e.preventDefault(); open(cite); }
  }, true);
  document.addEventListener('keydown', function (e) {
    const t = e.target;
    if ((e.key === 'Enter' || e.key === ' ') && t.classList && t.classList.contains('cite')) { e.preventDefault(); open(t); }
  });
  ['mouseover', 'focusin'].forEach(function (kind) {
    document.addEventListener(kind, function (e) {
      const cite = e.target.closest && e.target.closest('#chat .cite');
      if (cite && !cite.contains(e.relatedTarget)) place(cite);
    });
  });
  // previews come back once the pointer really moves (a tap leaves a hover behind) or a
  // citation is focused again
  let quietAt = null;
  document.addEventListener('pointerdown', function (e) { quietAt = [e.clientX, e.clientY]; }, true);
  document.addEventListener('pointermove', function (e) {
    if (e.pointerType !== 'mouse' || !document.body.classList.contains('cite-quiet')) return;
    if (!quietAt || Math.abs(e.clientX - quietAt[0]) + Math.abs(e.clientY - quietAt[1]) > 12) {
      document.body.classList.remove('cite-quiet');
    }
  });
  document.addEventListener('keyup', function (e) {
    if (e.key === 'Tab') document.body.classList.remove('cite-quiet');
  });
  // the question box: a counter near and over the limit (nothing typed or pasted is ever cut)
  function counter() {
    const box = document.querySelector('#question textarea');
    if (!box) return;
    let note = document.getElementById('question-count');
    if (!note) {
      note = document.createElement('div');
      note.id = 'question-count';
      note.setAttribute('aria-live', 'polite');
      box.setAttribute('aria-describedby', 'question-count');
      document.getElementById('question').appendChild(note);
    }
    const n = box.value.length;
    note.classList.toggle('over', n > LIMIT);
    note.textContent = n > LIMIT ? n.toLocaleString('en') + ' / ' + LIMIT.toLocaleString('en') + ' characters: ' +
      (n - LIMIT).toLocaleString('en') + ' too many. Shorten the question to send it (your text stays here).'
      : n >= LIMIT * 0.8 ? n.toLocaleString('en') + ' / ' + LIMIT.toLocaleString('en') + ' characters' : '';
  }
  document.addEventListener('input', function (e) { if (e.target.closest && e.target.closest('#question')) counter(); });
  // what each Enter or Ask sends, read at the key or click itself: Gradio reads the box a moment
  // later, when a question typed next may already be there (ten fast Enters lost some)
  window.__asked = [];
  let retrying = false;
  function asked() {
    const box = document.querySelector('#question textarea');
    if (!box) return;
    const entry = {text: box.value, at: Date.now(), retry: retrying};
    window.__asked.push(entry);
    // Gradio sometimes drops the first event after a page loads (gradio-app/gradio#13599: a second
    // click works): a question its event never took, still whole in the box, is sent once more
    setTimeout(function () {
      const i = window.__asked.indexOf(entry);
      if (i < 0 || entry.retry) return;
      window.__asked.splice(i, 1);
      const now = document.querySelector('#question textarea'), ask = document.getElementById('ask');
      if (now && ask && now.value.trim() === entry.text.trim() && entry.text.trim()) {
        retrying = true;
        try { ask.click(); } finally { retrying = false; }
      }
    }, 3000);
  }
  document.addEventListener('keydown', function (e) {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing && e.target.closest && e.target.closest('#question')) asked();
  }, true);
  document.addEventListener('click', function (e) { if (e.target.closest && e.target.closest('#ask')) asked(); }, true);
  // a new reply: scroll so that its first line is in view
  let lastReply = null;
  function followReply() {
    const bots = Array.from(document.querySelectorAll('#chat [data-testid="bot"]')).filter(function (m) {
      return !m.querySelector('.thought-group');
    });
    const last = bots[bots.length - 1];
    if (!last || last === lastReply) return;
    if (last.textContent.indexOf('Searching the sources') >= 0) {
      const users = document.querySelectorAll('#chat [data-testid="user"]');
      if (users.length) users[users.length - 1].scrollIntoView({block: 'nearest'});
      return;
    }
    lastReply = last;
    last.scrollIntoView({block: 'start'});
  }
  // Screen readers announce a message by its aria-label, which Gradio fills with the raw Markdown
  // (asterisks, escaped entities, our citation markup): name each message by its visible text.
  function relabel() {
    document.querySelectorAll('#chat [data-testid="bot"], #chat [data-testid="user"]').forEach(function (m) {
      const kind = m.getAttribute('data-testid') === 'bot' ? 'Answer' : 'Question';
      const clone = m.cloneNode(true);
      clone.querySelectorAll('.cite-pop, .copy-text').forEach(function (p) { p.remove(); });
      const text = kind + ': ' + clone.textContent.replace(/\s+/g, ' ').trim().slice(0, 400);
      if (m.getAttribute('aria-label') !== text) m.setAttribute('aria-label', text);
    });
  }
  new MutationObserver(function () {
    clearTimeout(window.__relabel);
    window.__relabel = setTimeout(function () { relabel(); followReply(); counter(); }, 30);
  }).observe(document.documentElement, {childList: true, subtree: true, characterData: true});
})();
