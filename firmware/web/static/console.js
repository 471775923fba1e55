// The console's only script: refresh the live camera still while the dashboard is open.
(function () {
  "use strict";
  var live = document.getElementById("live");
  if (!live) { return; }
  var every = parseInt(live.getAttribute("data-refresh"), 10) || 2000;
  setInterval(function () {
    if (document.hidden) { return; }
    live.src = "/camera/still.jpg?t=" + Date.now();
  }, every);
}());
