"use strict";
// authgate's one page script, on the passkey pages only (served as
// /oauth2/assets/passkey.js under `script-src 'self'`). It reads the WebAuthn options the
// server wrote into the page as JSON, asks the browser's authenticator, and posts the answer
// back in the page's own form: no fetch, no inline script, nothing kept in the browser.
(function () {
  const options = document.getElementById("webauthn-options");
  const button = document.getElementById("passkey-go");
  const form = document.getElementById("passkey-form");
  const status = document.getElementById("passkey-status");
  if (!options || !button || !form) {
    return;
  }
  const say = (text) => {
    if (status) {
      status.textContent = text;
    }
  };
  button.addEventListener("click", async () => {
    button.disabled = true;
    say("Waiting for your passkey…");
    try {
      const publicKey = JSON.parse(options.textContent).publicKey;
      const credential = options.dataset.ceremony === "create"
        ? await navigator.credentials.create({
          publicKey: PublicKeyCredential.parseCreationOptionsFromJSON(publicKey),
        })
        : await navigator.credentials.get({
          publicKey: PublicKeyCredential.parseRequestOptionsFromJSON(publicKey),
        });
      form.elements.credential.value = JSON.stringify(credential.toJSON());
      say("Checking…");
      form.submit();
    } catch (error) {
      say("The passkey did not answer (" + error.name + ": " + error.message + "). Try again.");
      button.disabled = false;
    }
  });
})();
