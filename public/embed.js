/*! Payframe embed.js: mounts the hosted card form (an iframe served by the gateway) and
 * relays its events. Card data never passes through this script or the merchant's page.
 * Plain JavaScript, no dependencies, no eval: works under a strict CSP. */
(function (window, document) {
  'use strict';
  if (window.Payframe) return;

  var script = document.currentScript;
  var gatewayOrigin = new URL(script ? script.src : window.location.href).origin;

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
    iframe.title = 'Secure card payment form';
    iframe.setAttribute('allow', 'payment');
    iframe.style.cssText = 'border:0;width:100%;height:180px;display:block;overflow:hidden;';
    iframe.scrolling = 'no';
    iframe.src = gatewayOrigin + '/frame/?session=' + encodeURIComponent(match[1]) +
      '#secret=' + encodeURIComponent(secret) +
      '&origin=' + encodeURIComponent(window.location.origin) +
      '&channel=' + channel;
    container.appendChild(iframe);

    function emit(name, detail) {
      (handlers[name] || []).forEach(function (fn) { fn(detail); });
    }

    function send(message) {
      message.channel = channel;
      iframe.contentWindow.postMessage(message, gatewayOrigin);
    }

    function onMessage(event) {
      // Only this instance's frame, from the gateway's origin, on this channel.
      if (event.origin !== gatewayOrigin || event.source !== iframe.contentWindow) return;
      var data = event.data;
      if (!data || data.channel !== channel || typeof data.type !== 'string') return;
      switch (data.type) {
        case 'payframe:ready':
          ready = true;
          queued.splice(0).forEach(send);
          emit('ready', {});
          break;
        case 'payframe:resize':
          if (typeof data.height === 'number' && data.height > 0) iframe.style.height = Math.ceil(data.height) + 'px';
          break;
        case 'payframe:result':
          var waiter = pending[data.id];
          if (!waiter) return;
          delete pending[data.id];
          if (data.ok) waiter.resolve(data.result);
          else waiter.reject(failure(data.error && data.error.code || 'unknown_error', data.error && data.error.message));
          break;
        case 'payframe:error':
          emit('error', data.error || {});
          Object.keys(pending).forEach(function (id) {
            pending[id].reject(failure(data.error && data.error.code || 'frame_error', data.error && data.error.message));
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
          var message = { type: 'payframe:submit', id: id };
          if (ready) send(message); else queued.push(message);
        });
      },
      destroy: function () {
        window.removeEventListener('message', onMessage);
        Object.keys(pending).forEach(function (id) { pending[id].reject(failure('destroyed')); });
        pending = {};
        if (iframe.parentNode) iframe.parentNode.removeChild(iframe);
      }
    };
  }

  window.Payframe = { mount: mount, version: '1' };
})(window, document);
