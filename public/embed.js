/*! Payframe embed.js: mounts the hosted card form (an iframe served by the gateway) and
 * relays its events. Card data never passes through this script or the merchant's page.
 * Plain JavaScript, no dependencies, no eval: works under a strict CSP. */
(function (window, document) {
  'use strict';
  if (window.Payframe) return;

  var script = document.currentScript;
  var gatewayOrigin = new URL(script ? script.src : window.location.href).origin;
  // The iframe's title, read by screen readers before the frame loads; the frame's own
  // texts live in frontend/src/i18n.rs, which also chooses the locale the same way.
  var TITLES = {
    en: 'Secure card payment form',
    pt: 'Formulário seguro de pagamento com cartão',
    zh: '安全的银行卡支付表单'
  };

  function language(tag) {
    var parts = String(tag || '').toLowerCase().replace(/_/g, '-').split('-');
    // Traditional Chinese readers are not served Simplified Chinese.
    if (parts[0] === 'zh' && parts.some(function (p) { return /^(hant|tw|hk|mo)$/.test(p); })) return null;
    return Object.prototype.hasOwnProperty.call(TITLES, parts[0]) ? parts[0] : null;
  }

  function title(locale) {
    var tags = [locale].concat(window.navigator.languages || [window.navigator.language]);
    for (var i = 0; i < tags.length; i++) {
      var l = language(tags[i]);
      if (l) return TITLES[l];
    }
    return TITLES.en;
  }

  function randomChannel() {
    var bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) {
      return ('0' + b.toString(16)).slice(-2);
    }).join('');
  }

  function failure(code, message) {
    var err = new Error(message || code);
    err.code = code;
    return err;
  }

  // Only the display options go to the frame; the frame checks each value again.
  function displayOptions(options) {
    var out = {};
    ['locale', 'appearance', 'fields'].forEach(function (key) {
      if (options && key in options) out[key] = options[key];
    });
    return out;
  }

  function mount(target, options) {
    var container = typeof target === 'string' ? document.querySelector(target) : target;
    if (!container) throw failure('invalid_target', 'Payframe.mount: no element matches ' + target);
    var secret = options && options.clientSecret;
    var match = /^(cs_[A-Za-z0-9]+)_secret_[A-Za-z0-9]+$/.exec(secret || '');
    if (!match) throw failure('invalid_client_secret', 'Payframe.mount: a clientSecret from your server is required');

    var channel = randomChannel();
    var handlers = {};
    var pending = {};
    var nextId = 1;
    var ready = false;
    var queued = [];

    var iframe = document.createElement('iframe');
    iframe.title = title(options.locale);
    iframe.setAttribute('allow', 'payment');
    iframe.style.cssText = 'border:0;width:100%;height:180px;display:block;overflow:hidden;';
    iframe.scrolling = 'no';
    iframe.src = gatewayOrigin + '/frame/?session=' + encodeURIComponent(match[1]) +
      '#secret=' + encodeURIComponent(secret) +
      '&origin=' + encodeURIComponent(window.location.origin) +
      '&channel=' + channel +
      '&opts=' + encodeURIComponent(JSON.stringify(displayOptions(options)));
    container.appendChild(iframe);

    function emit(name, detail) {
      (handlers[name] || []).forEach(function (fn) { fn(detail); });
    }

    function send(message) {
      message.channel = channel;
      iframe.contentWindow.postMessage(message, gatewayOrigin);
    }

    // Messages wait until the frame says it listens (`ready`).
    function deliver(message) {
      if (ready) send(message); else queued.push(message);
    }

    function onMessage(event) {
      // Only this instance's frame, from the gateway's origin, on this channel.
      if (event.origin !== gatewayOrigin || event.source !== iframe.contentWindow) return;
      var data = event.data;
      if (!data || data.channel !== channel || typeof data.type !== 'string') return;
      var error = data.error || {};
      switch (data.type) {
        case 'payframe:ready':
          ready = true;
          queued.splice(0).forEach(send);
          emit('ready', {});
          break;
        case 'payframe:resize':
          if (typeof data.height === 'number' && data.height > 0) iframe.style.height = Math.ceil(data.height) + 'px';
          break;
        case 'payframe:change':
          emit('change', { complete: !!data.complete, empty: !!data.empty, brand: data.brand, error: data.error || null });
          break;
        case 'payframe:focus':
        case 'payframe:blur':
          emit(data.type.slice(9), { field: data.field });
          break;
        case 'payframe:result':
          var waiter = pending[data.id];
          if (!waiter) return;
          delete pending[data.id];
          if (data.ok) waiter.resolve(data.result);
          else {
            var err = failure(error.code || 'unknown_error', error.message);
            err.param = error.param;
            err.decline_code = error.decline_code;
            waiter.reject(err);
          }
          break;
        case 'payframe:error':
          emit('error', error);
          Object.keys(pending).forEach(function (id) {
            pending[id].reject(failure(error.code || 'frame_error', error.message));
            delete pending[id];
          });
          break;
      }
    }
    window.addEventListener('message', onMessage);

    return {
      on: function (name, fn) {
        (handlers[name] = handlers[name] || []).push(fn);
        return this;
      },
      submit: function () {
        return new Promise(function (resolve, reject) {
          var id = nextId++;
          pending[id] = { resolve: resolve, reject: reject };
          deliver({ type: 'payframe:submit', id: id });
        });
      },
      update: function (changes) {
        if (changes && 'locale' in changes) iframe.title = title(changes.locale);
        deliver({ type: 'payframe:update', options: displayOptions(changes) });
        return this;
      },
      destroy: function () {
        window.removeEventListener('message', onMessage);
        Object.keys(pending).forEach(function (id) { pending[id].reject(failure('destroyed')); });
        pending = {};
        handlers = {};
        if (iframe.parentNode) iframe.parentNode.removeChild(iframe);
      }
    };
  }

  window.Payframe = { mount: mount, version: '1' };
})(window, document);
