// The demo shop's checkout script: asks its own server for a session, mounts the Payframe
// card form with the session's client secret, and submits it when the shopper pays. The
// language and theme pickers change the mounted form live with `update()`; a shop can
// start from `?locale=…&theme=…` too.
(function () {
  'use strict';
  var pay = document.getElementById('pay');
  var outcome = document.getElementById('outcome');
  var localePicker = document.getElementById('locale');
  var themePicker = document.getElementById('theme');
  var query = new URLSearchParams(window.location.search);
  if (query.get('locale')) localePicker.value = query.get('locale');
  if (query.get('theme')) themePicker.value = query.get('theme');

  function show(text, ok) {
    outcome.textContent = text;
    outcome.className = ok ? 'ok' : 'fail';
  }

  function money(amount, currency) {
    // Minor units to a display string without floating point arithmetic.
    var s = String(amount).padStart(3, '0');
    return currency.toUpperCase() + ' ' + s.slice(0, -2) + '.' + s.slice(-2);
  }

  function appearance() {
    document.body.className = themePicker.value === 'night' ? 'night' : '';
    return { theme: themePicker.value };
  }

  fetch('/api/checkout', { method: 'POST' })
    .then(function (r) { if (!r.ok) throw new Error('checkout failed'); return r.json(); })
    .then(function (order) {
      document.getElementById('price').textContent = money(order.amount, order.currency);
      document.getElementById('total').textContent = money(order.amount, order.currency);
      var card = window.Payframe.mount('#card', {
        clientSecret: order.clientSecret,
        locale: localePicker.value,
        appearance: appearance()
      });
      window.payframeCard = card;
      card.on('ready', function () { pay.disabled = false; });
      card.on('change', function (e) { window.lastChange = e; });
      localePicker.addEventListener('change', function () { card.update({ locale: localePicker.value }); });
      themePicker.addEventListener('change', function () { card.update({ appearance: appearance() }); });
      pay.addEventListener('click', function () {
        pay.disabled = true;
        show('Processing…', true);
        card.submit().then(function (result) {
          window.lastPaymentResult = result;
          show('Paid with ' + result.payment_method.brand + ' ending in ' + result.payment_method.last4 + '.', true);
        }, function (err) {
          window.lastPaymentError = { code: err.code, declineCode: err.decline_code, message: err.message };
          show(err.message || 'Payment failed.', false);
          pay.disabled = false;
        });
      });
    })
    .catch(function (err) { show('Could not start checkout: ' + err.message, false); });
})();
