// The audit trail's copy buttons: copy a shortened id whole (its data-copy attribute) to the clipboard.
"use strict";
document.addEventListener("click", function (event) {
  const button = event.target.closest("button.copy-id");
  if (!button) {
    return;
  }
  event.preventDefault();
  const done = function () {
    button.textContent = "copied";
    window.setTimeout(function () { button.textContent = "copy"; }, 1500);
  };
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(button.dataset.copy).then(done);
  } else {  // plain http: select the id so that Ctrl+C copies it
    const code = button.parentElement.querySelector("code");
    code.textContent = button.dataset.copy;
    window.getSelection().selectAllChildren(code);
  }
});
