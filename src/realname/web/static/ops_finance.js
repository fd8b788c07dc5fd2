// Finance page: a chosen plan file is read into the text box, so the form posts plain
// text (no multipart upload, and the CSRF field travels with it like on every form).
(function () {
  var input = document.getElementById("plan_file");
  var box = document.getElementById("plan_yaml");
  if (!input || !box || !window.FileReader) return;
  input.addEventListener("change", function () {
    var file = input.files && input.files[0];
    if (!file) return;
    var reader = new FileReader();
    reader.onload = function () { box.value = String(reader.result || ""); };
    reader.readAsText(file, "utf-8");
  });
})();
