/*
 * Bootstrap of the self-hosted GraphiQL page (app/graphql/graphiql.py).
 * A file rather than an inline script, so the page's CSP can say script-src 'self'.
 * Reads its configuration from the JSON data block #graphiql-config.
 */
(function () {
  "use strict";

  var config = JSON.parse(document.getElementById("graphiql-config").textContent);

  // sessionStorage, namespaced per page configuration: editor state survives a reload but
  // not the browser tab, and a new token (new configuration) starts from the example tabs.
  function namespacedSessionStorage(prefix) {
    var store;
    try {
      store = window.sessionStorage;
      store.setItem(prefix + "probe", "1");
      store.removeItem(prefix + "probe");
    } catch (error) {
      return null; // storage disabled: GraphiQL keeps its state in memory only
    }
    function ownKeys() {
      var keys = [];
      for (var index = 0; index < store.length; index += 1) {
        var key = store.key(index);
        if (key !== null && key.indexOf(prefix) === 0) {
          keys.push(key);
        }
      }
      return keys;
    }
    return {
      getItem: function (key) {
        return store.getItem(prefix + key);
      },
      setItem: function (key, value) {
        store.setItem(prefix + key, value);
      },
      removeItem: function (key) {
        store.removeItem(prefix + key);
      },
      clear: function () {
        ownKeys().forEach(function (key) {
          store.removeItem(key);
        });
      },
      get length() {
        return ownKeys().length;
      },
    };
  }

  function fetcher(params, options) {
    var headers = Object.assign({}, (options && options.headers) || {}, {
      "Content-Type": "application/json",
      Accept: "application/graphql-response+json, application/json",
    });
    return fetch(config.endpoint, {
      method: "POST",
      headers: headers,
      body: JSON.stringify(params),
      credentials: "same-origin",
    }).then(function (response) {
      return response.text().then(function (text) {
        try {
          return JSON.parse(text);
        } catch (error) {
          // Not GraphQL JSON (e.g. a 400 in plain text): show it rather than a parse error.
          var detail = text || response.statusText;
          return { errors: [{ message: "HTTP " + response.status + ": " + detail }] };
        }
      });
    });
  }

  var root = ReactDOM.createRoot(document.getElementById("graphiql"));
  root.render(
    React.createElement(GraphiQL, {
      fetcher: fetcher,
      defaultTabs: config.tabs,
      defaultHeaders: config.defaultHeaders,
      shouldPersistHeaders: true,
      storage: namespacedSessionStorage(config.storageNamespace),
      isHeadersEditorEnabled: true,
      defaultEditorToolsVisibility: "headers",
    })
  );
})();
