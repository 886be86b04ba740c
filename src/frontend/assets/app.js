// Progressive enhancement only: every page works without this file.
// Forms marked data-autosubmit submit when one of their fields changes.
document.addEventListener("change", function (e) {
  var form = e.target && e.target.closest && e.target.closest("form[data-autosubmit]");
  if (form) { form.requestSubmit ? form.requestSubmit() : form.submit(); }
});
