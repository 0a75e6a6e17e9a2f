// Key/Value pages: browse by prefix, view, create, edit and delete. Every write is a
// check-and-set (?cas=<ModifyIndex>, or cas=0 to create) so two editors never overwrite each
// other silently; a refused write shows a conflict message and the value now on the server.
(function () {
  'use strict';
  var U = window.ConsulUI;
  var h = U.h;

  function decode(b64) {
    if (!b64) return '';
    var bin = atob(b64), bytes = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
    return new TextDecoder('utf-8').decode(bytes);
  }
  function kvUrl(key, params) { return U.api('/v1/kv/' + U.encPath(key), params); }
  function parent(key) {
    var k = key.replace(/\/$/, '');
    var i = k.lastIndexOf('/');
    return i < 0 ? '' : k.slice(0, i + 1);
  }
  function crumbs(key) {
    var out = [h('a', { href: U.href('kv/') }, 'Key/Value')];
    var parts = key.split('/'), acc = '';
    for (var i = 0; i < parts.length - 1; i++) {
      acc += parts[i] + '/';
      out.push(' / ', h('a', { href: U.href('kv/' + U.encPath(acc)) }, parts[i]));
    }
    return out;
  }
  function msg(box, cls, text) { box.replaceChildren(h('div', { class: 'msg ' + cls, role: 'alert' }, text)); }
  function write(method, url, body) {
    return fetch(url, { method: method, body: body }).then(function (r) {
      return r.text().then(function (t) {
        if (!r.ok) throw new Error('HTTP ' + r.status + ': ' + t);
        return t.trim() === 'true';
      });
    });
  }

  function folder(prefix) {
    U.page(prefix ? prefix.replace(/\/$/, '').split('/').pop() + '/' : 'Key/Value', prefix ? crumbs(prefix) : null);
    var list = h('div', { id: 'kv-list' });
    var box = h('div');
    var name = h('input', { type: 'text', id: 'kv-new-key', placeholder: 'key, or folder/ to create a folder', required: true });
    var value = h('textarea', { id: 'kv-new-value', placeholder: 'value' });
    var form = h('form', { class: 'create', id: 'kv-create', onsubmit: function (e) {
      e.preventDefault();
      var key = prefix + name.value;
      if (!name.value) return;
      write('PUT', kvUrl(key, 'cas=0'), key.slice(-1) === '/' ? '' : value.value).then(function (ok) {
        if (ok) U.go(U.href('kv/' + U.encPath(key)));
        else msg(box, 'conflict', 'Not created: the key "' + key + '" already exists. Open it to edit it.');
      }).catch(function (e) { msg(box, 'err', e.message); });
    } }, h('h2', null, 'Create'), h('label', { for: 'kv-new-key' }, 'Key or folder name'),
      h('div', null, h('span', { class: 'muted' }, prefix), name),
      h('label', { for: 'kv-new-value' }, 'Value'), value, box,
      h('div', { class: 'actions' }, h('button', { class: 'primary', type: 'submit', id: 'kv-create-btn' }, 'Save')));
    app().append(list, form);
    U.watch(kvUrl(prefix, 'keys&separator=/'), function (keys) {
      var items = (keys || []).filter(function (k) { return k !== prefix; });
      if (!items.length) { list.replaceChildren(h('div', { class: 'empty' }, 'There are no keys here yet.')); return; }
      list.replaceChildren(h('table', { class: 'list', id: 'kv-keys' },
        h('thead', null, h('tr', null, h('th', null, 'Name'), h('th', null, 'Kind'))),
        h('tbody', null, items.map(function (k) {
          var isDir = k.slice(-1) === '/';
          return h('tr', { 'data-key': k },
            h('td', null, h('a', { href: U.href('kv/' + U.encPath(k)) }, k.slice(prefix.length))),
            h('td', { class: 'muted' }, isDir ? 'folder' : 'key'));
        }))));
    });
  }

  function entry(key) {
    U.page(key.split('/').pop(), crumbs(key));
    var base = null;
    var dirty = false;
    var box = h('div', { id: 'kv-msg' });
    var meta = h('p', { class: 'muted', id: 'kv-meta' });
    var text = h('textarea', { id: 'kv-value', oninput: function () { dirty = true; } });
    var del = h('button', { class: 'danger', type: 'button', id: 'kv-delete', onclick: function () {
      if (!del.classList.contains('confirm')) { del.classList.add('confirm'); del.textContent = 'Really delete?'; return; }
      write('DELETE', kvUrl(key, 'cas=' + base)).then(function (ok) {
        if (ok) U.go(U.href('kv/' + U.encPath(parent(key))));
        else conflict('Not deleted');
      }).catch(function (e) { msg(box, 'err', e.message); });
    } }, 'Delete');
    var save = h('button', { class: 'primary', type: 'button', id: 'kv-save', onclick: function () {
      write('PUT', kvUrl(key, 'cas=' + base), text.value).then(function (ok) {
        if (ok) { dirty = false; msg(box, 'ok', 'Saved.'); } else conflict('Not saved');
      }).catch(function (e) { msg(box, 'err', e.message); });
    } }, 'Save');
    app().append(meta, text, h('div', { class: 'actions' }, save, del), box);

    // A refused check-and-set: keep the user's text, show what is on the server now, and make
    // the next Save a deliberate overwrite of that version.
    function conflict(what) {
      fetch(kvUrl(key), { cache: 'no-store' }).then(function (r) { return r.status === 404 ? null : r.json(); }).then(function (b) {
        var cur = b && b[0];
        var was = base;
        base = cur ? cur.ModifyIndex : 0;
        box.replaceChildren(h('div', { class: 'msg conflict', role: 'alert', id: 'kv-conflict' },
          what + ': this key was changed by someone else since you loaded it (your version ' + was +
          ', now ' + (cur ? cur.ModifyIndex : 'deleted') + '). Your text is kept above; ' +
          'press Save again to overwrite the current value, shown here:'),
          h('pre', { class: 'out' }, cur ? decode(cur.Value) : '(deleted)'));
      });
    }

    U.watch(kvUrl(key), function (b) {
      var cur = b && b[0];
      if (!cur) { meta.textContent = 'This key does not exist (any more). Saving creates it.'; if (base === null) base = 0; return; }
      meta.textContent = 'ModifyIndex ' + cur.ModifyIndex + ' \u00b7 CreateIndex ' + cur.CreateIndex +
        ' \u00b7 Flags ' + cur.Flags + (cur.Session ? ' \u00b7 locked by session ' + cur.Session : '');
      var value = decode(cur.Value);
      if (!dirty || value === text.value) { text.value = value; base = cur.ModifyIndex; dirty = false; } else if (cur.ModifyIndex !== base) {
        msg(box, 'info', 'This key changed on the server while you were editing (ModifyIndex ' + cur.ModifyIndex + ').');
      }
    });
  }

  function app() { return document.getElementById('app'); }

  window.ConsulKV = function (key) {
    if (!key || key.slice(-1) === '/') folder(key || '');
    else entry(key);
  };
})();
