// Consul catalog browser: routes on the URL, draws pages from the HTTP API, follows changes
// with blocking queries (?index=) and reconnects with backoff. All catalog data is inserted
// with textContent, never innerHTML.
(function () {
  'use strict';
  var cfg = JSON.parse(document.getElementById('consul-ui-config').textContent);
  var ROOT = cfg.ContentPath;
  var WAIT = '60s';
  var app = document.getElementById('app');
  var banner = document.getElementById('banner');
  var dc = cfg.LocalDatacenter;
  var gen = 0;
  var ctrl = null;
  var ICON = { passing: '\u2714', warning: '!', critical: '\u2716', none: '\u2013' };

  // ACLs: the token the user gave (kept in this browser's localStorage) rides on every API
  // request as X-Consul-Token; a page the agent refuses (403) asks for one.
  var TOKEN_KEY = 'consul:token';
  function token() { try { return localStorage.getItem(TOKEN_KEY) || ''; } catch (e) { return ''; } }
  function setToken(t) { try { if (t) localStorage.setItem(TOKEN_KEY, t); else localStorage.removeItem(TOKEN_KEY); } catch (e) { /* private mode */ } }
  var rawFetch = window.fetch.bind(window);
  window.fetch = function (url, opts) {
    var o = Object.assign({}, opts || {});
    var t = token();
    if (t) { var hd = new Headers(o.headers || {}); hd.set('X-Consul-Token', t); o.headers = hd; }
    return rawFetch(url, o);
  };

  function h(tag, attrs) {
    var el = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      var v = attrs[k];
      if (v === null || v === undefined || v === false) return;
      if (k === 'class') el.className = v;
      else if (k.slice(0, 2) === 'on') el.addEventListener(k.slice(2), v);
      else if (k === 'value') el.value = v;
      else el.setAttribute(k, v === true ? '' : v);
    });
    for (var i = 2; i < arguments.length; i++) add(el, arguments[i]);
    return el;
  }
  function add(el, kid) {
    if (kid === null || kid === undefined || kid === false) return;
    if (Array.isArray(kid)) { kid.forEach(function (k) { add(el, k); }); return; }
    el.appendChild(typeof kid === 'object' ? kid : document.createTextNode(String(kid)));
  }
  function enc(s) { return encodeURIComponent(s); }
  function encPath(s) { return s.split('/').map(enc).join('/'); }
  function href(path) { return ROOT + enc(dc) + '/' + path; }
  function link(path, text, attrs) {
    var a = h('a', attrs || {}, text);
    a.setAttribute('href', href(path));
    return a;
  }
  function api(path, params) {
    var q = 'dc=' + enc(dc) + (params ? '&' + params : '');
    return path + (path.indexOf('?') < 0 ? '?' : '&') + q;
  }

  // Health: a coloured pill with a symbol and the word.
  function status(st, text) {
    var s = ICON[st] ? st : 'none';
    return h('span', { class: 'st st-' + s, 'data-status': s }, ICON[s] + ' ' + (text || st));
  }
  function worst(checks) {
    var w = 'passing';
    if (!checks || !checks.length) return 'none';
    checks.forEach(function (c) {
      if (c.Status === 'critical') w = 'critical';
      else if (c.Status === 'warning' && w !== 'critical') w = 'warning';
    });
    return w;
  }
  function counts(p, w, c) {
    if (!p && !w && !c) return status('none', 'no checks');
    return [p ? status('passing', p + ' passing') : null, w ? status('warning', w + ' warning') : null,
      c ? status('critical', c + ' critical') : null];
  }
  function countChecks(checks) {
    var n = { passing: 0, warning: 0, critical: 0 };
    (checks || []).forEach(function (c) { if (n[c.Status] !== undefined) n[c.Status]++; });
    return counts(n.passing, n.warning, n.critical);
  }
  function tags(list) { return (list || []).map(function (t) { return h('span', { class: 'tag' }, t); }); }
  function metaList(m) {
    var keys = Object.keys(m || {}).sort();
    if (!keys.length) return h('span', { class: 'muted' }, 'none');
    return h('dl', { class: 'kv' }, keys.map(function (k) { return [h('dt', null, k), h('dd', null, m[k])]; }));
  }
  function table(id, heads, rows) {
    return h('table', { id: id, class: 'list' },
      h('thead', null, h('tr', null, heads.map(function (t) { return h('th', null, t); }))),
      h('tbody', null, rows));
  }
  function addr(svc, node) { return (svc.Address || node.Address || '') + (svc.Port ? ':' + svc.Port : ''); }

  // Connection state: a banner while the server cannot be reached.
  function offline(msg, delay) {
    banner.hidden = false;
    banner.className = 'banner';
    banner.textContent = 'Reconnecting to Consul\u2026 ' + msg + ' (retrying in ' + Math.round(delay / 100) / 10 + 's)';
  }
  function online() { banner.hidden = true; banner.textContent = ''; }

  // Follows `url` with blocking queries; calls render(body) on each change (null on 404).
  function watch(url, render) {
    var my = gen, index = 0, delay = 500;
    function again(ms) { setTimeout(once, ms); }
    function once() {
      if (my !== gen) return;
      var t0 = Date.now();
      fetch(url + '&index=' + index + '&wait=' + WAIT, { signal: ctrl.signal, cache: 'no-store' })
        .then(function (r) {
          var ni = Number(r.headers.get('X-Consul-Index')) || 0;
          if (r.headers.get('X-Consul-Results-Filtered-By-ACLs') === 'true') hiddenByAcls();
          if (r.status === 404) return { ni: ni, body: null };
          if (r.status === 403) return r.text().then(function (t) { var e = new Error(t); e.acl = true; throw e; });
          if (!r.ok) return r.text().then(function (t) { throw new Error('HTTP ' + r.status + ': ' + t); });
          return r.json().then(function (b) { return { ni: ni, body: b }; });
        })
        .then(function (res) {
          if (my !== gen) return;
          online();
          delay = 500;
          var same = res.ni === index && index !== 0;
          if (!same) render(res.body);
          index = res.ni < index ? 0 : res.ni;
          // A query that returns at once without a change must not turn into a busy loop.
          again(same && Date.now() - t0 < 250 ? 1000 : 0);
        })
        .catch(function (e) {
          if (my !== gen || e.name === 'AbortError') return;
          if (e.acl) { online(); askToken(e.message); return; }
          offline(e.message || String(e), delay);
          again(delay);
          delay = Math.min(delay * 2, 10000);
        });
    }
    once();
  }

  // A list came back with entries the token may not see: say so, with a way to give one.
  function hiddenByAcls() {
    if (document.getElementById('acl-filtered')) return;
    var note = h('div', { class: 'msg', id: 'acl-filtered', role: 'status' },
      'Some entries are hidden by ACLs. ',
      h('button', { type: 'button', id: 'acl-login', onclick: function () { askToken('Entries on this page are hidden from ' + (token() ? 'the token in use.' : 'requests without a token.')); } },
        token() ? 'Use another token' : 'Use a token'));
    var title = app.querySelector('h1');
    if (title) title.after(note); else app.prepend(note);
  }

  // The agent refused this page: say why and ask for a token, then draw the page again.
  function askToken(why) {
    gen++;
    page('ACL token required');
    var input = h('input', { type: 'password', id: 'token-input', autocomplete: 'off', placeholder: 'SecretID' });
    app.appendChild(h('form', { id: 'token-form', class: 'create', onsubmit: function (e) {
      e.preventDefault();
      setToken(input.value.trim());
      route();
    } },
      h('div', { class: 'msg err', role: 'alert', id: 'token-why' }, why),
      h('label', { for: 'token-input' }, token() ? 'The token in use may not see this page. Another token:' : 'This agent enforces ACLs. Token:'),
      input,
      h('div', { class: 'actions' },
        h('button', { class: 'primary', type: 'submit', id: 'token-save' }, 'Use token'),
        token() ? h('button', { type: 'button', id: 'token-clear', onclick: function () { setToken(''); route(); } }, 'Forget token') : null)));
    input.focus();
  }

  function page(title, crumbs) {
    document.title = title + ' - Consul';
    app.replaceChildren();
    if (crumbs) app.appendChild(h('div', { class: 'crumbs' }, crumbs));
    app.appendChild(h('h1', null, title));
  }
  function filterBox(placeholder, onInput) {
    var input = h('input', { type: 'search', id: 'filter', placeholder: placeholder, oninput: onInput });
    var count = h('span', { class: 'count', id: 'count' });
    app.appendChild(h('div', { class: 'toolbar' }, input, count));
    return { input: input, count: count, match: function (s) { return s.toLowerCase().indexOf(input.value.trim().toLowerCase()) >= 0; } };
  }

  function servicesPage() {
    page('Services');
    var data = [];
    var f = filterBox('Filter by name or tag', draw);
    var tbody = h('tbody');
    app.appendChild(h('table', { id: 'services', class: 'list' },
      h('thead', null, h('tr', null, h('th', null, 'Service'), h('th', null, 'Health checks'),
        h('th', null, 'Instances'), h('th', null, 'Tags'))), tbody));
    function draw() {
      var rows = data.filter(function (s) { return f.match(s.Name) || (s.Tags || []).some(f.match); });
      tbody.replaceChildren.apply(tbody, rows.map(function (s) {
        return h('tr', { 'data-service': s.Name },
          h('td', null, link('services/' + enc(s.Name) + '/instances', s.Name)),
          h('td', null, counts(s.ChecksPassing, s.ChecksWarning, s.ChecksCritical)),
          h('td', { class: 'num' }, s.InstanceCount + (s.InstanceCount === 1 ? ' instance' : ' instances')),
          h('td', null, tags(s.Tags)));
      }));
      f.count.textContent = rows.length + ' of ' + data.length + ' services';
    }
    watch(api('/v1/internal/ui/services'), function (b) { data = b || []; draw(); });
  }

  function instancesPage(name) {
    page(name, link('services', 'Services'));
    var list = h('div', { id: 'instances' });
    app.appendChild(list);
    watch(api('/v1/health/service/' + enc(name)), function (b) {
      var entries = b || [];
      if (!entries.length) { list.replaceChildren(h('div', { class: 'empty' }, 'No instances of this service are registered.')); return; }
      list.replaceChildren.apply(list, [h('p', { class: 'count' }, entries.length + ' instances')].concat(entries.map(function (e) {
        return h('section', { class: 'card instance', 'data-instance': e.Service.ID },
          h('header', null, h('h3', null, e.Service.ID), status(worst(e.Checks))),
          h('div', { class: 'body' },
            h('dl', { class: 'kv' },
              h('dt', null, 'Node'), h('dd', null, link('nodes/' + enc(e.Node.Node), e.Node.Node, { class: 'node-link' })),
              h('dt', null, 'Address'), h('dd', { class: 'address' }, addr(e.Service, e.Node)),
              h('dt', null, 'Tags'), h('dd', null, tags(e.Service.Tags)),
              h('dt', null, 'Meta'), h('dd', null, metaList(e.Service.Meta))),
            checksTable(e.Checks)));
      })));
    });
  }

  function checksTable(checks) {
    if (!checks || !checks.length) return h('p', { class: 'muted' }, 'No health checks.');
    return table(null, ['Check', 'Type', 'Status', 'Output'], checks.map(function (c) {
      return h('tr', { 'data-check': c.CheckID },
        h('td', null, c.Name, c.ServiceName ? null : h('span', { class: 'muted' }, ' (node)')),
        h('td', null, c.Type || 'serf'), h('td', null, status(c.Status)),
        h('td', null, c.Output ? h('pre', { class: 'out' }, c.Output) : h('span', { class: 'muted' }, 'no output')));
    }));
  }

  function nodesPage() {
    page('Nodes');
    var data = [], leader = '';
    var f = filterBox('Filter by name or address', draw);
    var tbody = h('tbody');
    app.appendChild(h('table', { id: 'nodes', class: 'list' },
      h('thead', null, h('tr', null, h('th', null, 'Node'), h('th', null, 'Address'),
        h('th', null, 'Health checks'), h('th', null, 'Services'))), tbody));
    function draw() {
      var rows = data.filter(function (n) { return f.match(n.Node) || f.match(n.Address); });
      tbody.replaceChildren.apply(tbody, rows.map(function (n) {
        var isLeader = leader && leader.split(':')[0] === n.Address && n.Services.some(function (s) { return s.ID === 'consul'; });
        return h('tr', { 'data-node': n.Node },
          h('td', null, link('nodes/' + enc(n.Node), n.Node), isLeader ? h('span', { class: 'badge' }, 'leader') : null),
          h('td', null, n.Address), h('td', null, countChecks(n.Checks)),
          h('td', { class: 'num' }, n.Services.length + (n.Services.length === 1 ? ' service' : ' services')));
      }));
      f.count.textContent = rows.length + ' of ' + data.length + ' nodes';
    }
    fetch(api('/v1/status/leader')).then(function (r) { return r.json(); })
      .then(function (l) { leader = l || ''; draw(); }).catch(function () {});
    watch(api('/v1/internal/ui/nodes'), function (b) { data = b || []; draw(); });
  }

  function nodePage(name) {
    page(name, link('nodes', 'Nodes'));
    var body = h('div', { id: 'node' });
    app.appendChild(body);
    watch(api('/v1/internal/ui/node/' + enc(name)), function (n) {
      if (!n) { body.replaceChildren(h('div', { class: 'empty' }, 'This node is not registered.')); return; }
      body.replaceChildren(
        h('dl', { class: 'kv' }, h('dt', null, 'Address'), h('dd', null, n.Address),
          h('dt', null, 'Health'), h('dd', null, status(worst(n.Checks)))),
        h('h2', null, 'Health checks'), checksTable(n.Checks),
        h('h2', null, 'Service instances (' + n.Services.length + ')'),
        n.Services.length ? table('node-services', ['ID', 'Service', 'Address', 'Tags'], n.Services.map(function (s) {
          return h('tr', { 'data-instance': s.ID }, h('td', null, s.ID),
            h('td', null, link('services/' + enc(s.Service) + '/instances', s.Service)),
            h('td', { class: 'address' }, addr(s, n)), h('td', null, tags(s.Tags)));
        })) : h('p', { class: 'muted' }, 'No services on this node.'),
        h('h2', null, 'Metadata'), metaList(n.Meta));
    });
  }

  window.ConsulUI = { h: h, href: href, api: api, page: page, watch: watch, status: status, encPath: encPath, go: go };

  function route() {
    gen++;
    if (ctrl) ctrl.abort();
    ctrl = new AbortController();
    window.ConsulUI.signal = ctrl.signal;
    window.ConsulUI.gen = gen;
    var rest = location.pathname.slice(ROOT.length).split('/').map(function (p) {
      try { return decodeURIComponent(p); } catch (e) { return p; }
    });
    if (rest[0]) dc = rest[0];
    var section = rest[1] || '';
    ['services', 'nodes', 'kv'].forEach(function (s) {
      var a = document.getElementById('nav-' + s);
      if (a) a.className = section === s ? 'active' : '';
    });
    if (section === 'services' && rest[2]) instancesPage(rest[2]);
    else if (section === 'nodes' && rest[2]) nodePage(rest[2]);
    else if (section === 'nodes') nodesPage();
    else if (section === 'kv' && window.ConsulKV) window.ConsulKV(rest.slice(2).join('/'));
    else if (section === 'services') servicesPage();
    else { history.replaceState(null, '', href('services')); servicesPage(); }
  }
  function go(url) { history.pushState(null, '', url); route(); window.scrollTo(0, 0); }

  document.addEventListener('click', function (e) {
    var a = e.target.closest && e.target.closest('a[href]');
    if (!a || e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey) return;
    var u = new URL(a.href, location.href);
    if (u.origin !== location.origin || u.pathname.indexOf(ROOT) !== 0) return;
    e.preventDefault();
    go(u.pathname + u.search);
  });
  window.addEventListener('popstate', route);
  window.ConsulUI.route = route;
  document.addEventListener('DOMContentLoaded', route);
})();
