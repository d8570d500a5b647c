// Live updates for Verbatim's pages (Server-Sent Events from /events). New and updated stories
// appear at the top of the list, removed (killed, withheld) stories disappear, and an open
// article that is taken down says so. Text is set with textContent only: nothing from the
// stream is parsed as HTML.
(function () {
  "use strict";
  if (!window.EventSource) return;
  var list = document.querySelector("ol.stories[data-live]");
  var article = document.querySelector("article[data-id]");
  if (!list && !article) return;
  var scope = list ? list.getAttribute("data-live") : "";
  var status = document.getElementById("live-status");
  function announce(text) { if (status) status.textContent = text; }
  function item(story) {
    var li = document.createElement("li");
    li.className = "story";
    li.setAttribute("data-id", story.id);
    if (story.language) li.lang = story.language;
    li.dir = story.dir || "auto";
    var h2 = document.createElement("h2");
    var a = document.createElement("a");
    a.href = story.path;
    a.textContent = story.headline;
    h2.appendChild(a);
    li.appendChild(h2);
    var meta = document.createElement("p");
    meta.className = "meta";
    var source = document.createElement("a");
    source.className = "source";
    source.href = "/sources/" + encodeURIComponent(story.source);
    source.textContent = story.source;
    meta.appendChild(source);
    var time = document.createElement("time");
    time.dateTime = story.time_iso;
    time.textContent = story.time_display;
    meta.appendChild(time);
    li.appendChild(meta);
    if (story.teaser) {
      var teaser = document.createElement("p");
      teaser.className = "teaser";
      teaser.textContent = story.teaser;
      li.appendChild(teaser);
    }
    return li;
  }
  function find(id) {
    var all = list ? list.querySelectorAll("li[data-id]") : [];
    for (var i = 0; i < all.length; i++) if (all[i].getAttribute("data-id") === id) return all[i];
    return null;
  }
  var events = new EventSource("/events");
  events.addEventListener("story", function (message) {
    var story = JSON.parse(message.data);
    var inScope = scope === "all" || scope === "source:" + story.source ||
      (story.sections || []).some(function (name) { return scope === "section:" + name; });
    if (!list || !inScope) return;
    var old = find(story.id);
    if (old) old.parentNode.removeChild(old);
    list.insertBefore(item(story), list.firstChild);
    announce("New story: " + story.headline);
  });
  events.addEventListener("removed", function (message) {
    var removed = JSON.parse(message.data);
    var old = find(removed.id);
    if (old) {
      old.parentNode.removeChild(old);
      announce("A story was withdrawn by the agency.");
    }
    if (article && article.getAttribute("data-id") === removed.id) {
      article.textContent = "The agency has withdrawn this story. It is no longer available.";
      announce("This story was withdrawn by the agency.");
    }
  });
  events.addEventListener("reload", function () { window.location.reload(); });
})();
