/*
 * Storefront returns portal (app/http/portal.py serves the page shell).
 * One dependency-free script, loaded with `defer`: reads #portal-config, renders each step of the
 * return flow into <main id="portal"> and talks to GraphQL with fetch.
 * The page's CSP allows no inline script or style, so the DOM is built with createElement and
 * textContent only (order titles, notes and shop texts are never parsed as HTML), and styles go
 * through classes or the CSSOM.
 */
(() => {
  "use strict";

  const root = document.getElementById("portal");
  const configElement = document.getElementById("portal-config");
  if (!root || !configElement) {
    return;
  }
  const config = JSON.parse(configElement.textContent);
  const messages = config.messages || {};
  const locale = config.locale || "en";
  const branding = config.branding || {};
  const shop = config.shop || {};

  // The flow's steps in order; "confirmation" and "status" stand outside the numbered steps.
  const FLOW = ["find", "items", "reasons", "resolution", "method", "review"];
  const OFFERED_RESOLUTIONS = ["REFUND", "STORE_CREDIT"];
  const REASONS = [
    "SIZE_TOO_SMALL",
    "SIZE_TOO_LARGE",
    "COLOR",
    "STYLE",
    "UNWANTED",
    "NOT_AS_DESCRIBED",
    "DEFECTIVE",
    "WRONG_ITEM",
    "OTHER",
  ];
  // A prepaid label not bought yet: the status page says it is being prepared.
  const LABEL_PREPARING = ["AWAITING_REQUEST", "LABEL_PENDING", "LABEL_FAILED"];
  const NOTE_MAX = 500;
  // Photos of damaged, defective or wrong items, sent as JPEGs of at most PHOTO_SIDE px a side.
  const PHOTO_REASONS = ["DEFECTIVE", "WRONG_ITEM"];
  const PHOTO_TYPES = ["image/jpeg", "image/png", "image/webp"];
  const PHOTO_MAX = 3;
  const PHOTO_SIDE = 2048;
  const PHOTO_BYTES = 1000000; // the server's limit (app/services/returns/photos.py)
  const PREVIEW_SIDE = 160; // twice the CSS size: sharp on dense screens
  const DEFAULT_ACCENT = "#1f2937";

  const ORDER_FIELDS = `fragment PortalOrderFields on PortalOrder {
  id name orderNumber createdAt currencyCode totalPrice { amount currencyCode }
  eligible ineligibleReason returnWindowEndsAt
  allowedResolutions allowedMethods storeCreditBonusPercent
  lineItems { id title variantTitle quantity returnableQuantity
              price { amount currencyCode } eligible ineligibleReason }
  returns { id reference status statusToken createdAt }
}`;
  const LOOKUP = `query Lookup($orderNumber: String!, $email: String!) {
  lookupOrder(orderNumber: $orderNumber, customerEmail: $email) { ...PortalOrderFields } }
${ORDER_FIELDS}`;
  const CUSTOMER_ORDERS = `query CustomerOrders { customerOrders { ...PortalOrderFields } }
${ORDER_FIELDS}`;
  const CREATE = `mutation Create($input: CreateReturnInput!) {
  createReturn(input: $input) {
    return { id reference status statusToken }
    userErrors { field code message } } }`;
  const STATUS = `query Status($token: String!) {
  returnStatus(token: $token) {
    reference orderNumber status createdAt resolutionType returnMethod
    items { title quantity reason }
    timeline { status at }
    shipment { status carrier service trackingNumber trackingUrl labelUrl qrCodeUrl
               tracking { status at } } } }`;
  const EXCHANGE_OPTIONS = `query ExchangeOptions($orderId: ID!, $email: String, $lineItemId: ID!,
  $quantity: Int) {
  exchangeOptions(orderId: $orderId, customerEmail: $email, lineItemId: $lineItemId,
    quantity: $quantity) {
    available
    options { variantId title price { amount currencyCode } inStock } } }`;

  const state = {
    step: "find",
    orders: null, // customer mode: the signed-in customer's orders once loaded
    loadFailed: false, // customer orders or return status could not be loaded
    orderNumber: "", // the lookup form's fields
    email: "",
    lookupOpen: false, // customer mode: the lookup form shown below their orders
    order: null,
    orderEmail: null, // the email that found the order (sent as its proof), null from the list
    // lineItemId -> {quantity, reason, note, photos: [{token, preview}], pending, photoStatus}
    lines: new Map(),
    resolution: null,
    // One line chosen: {lineItemId, quantity, status: idle|loading|ready|failed, options,
    // variantId, messageKey}
    exchange: null,
    method: null,
    submission: null, // {key, input}: the reviewed createReturn input, with its requestId
    created: null,
    statusData: undefined, // status mode: the return, or null for a token that is not valid
    errors: [], // [{text, focusId}] for the error summary of the step being shown
    fieldErrors: new Map(), // field id -> message shown under that field
    busy: false,
  };

  // ---- text and formatting

  const has = (object, key) => Object.prototype.hasOwnProperty.call(object, key);

  function t(key, params) {
    const text = has(messages, key) ? messages[key] : key;
    return params
      ? text.replace(/\{(\w+)\}/g, (match, name) =>
          has(params, name) ? String(params[name]) : match
        )
      : text;
  }

  // Enum labels: a status added on the server after this catalog shows by its raw name.
  function enumLabel(prefix, value) {
    return has(messages, prefix + value) ? messages[prefix + value] : String(value);
  }

  function money(value) {
    if (!value) {
      return "";
    }
    try {
      return new Intl.NumberFormat(locale, {
        style: "currency",
        currency: value.currencyCode,
      }).format(Number(value.amount));
    } catch (error) {
      return value.amount + " " + value.currencyCode; // a currency code Intl does not know
    }
  }

  function formatDate(iso, withTime) {
    const date = new Date(iso);
    if (Number.isNaN(date.getTime())) {
      return String(iso);
    }
    const options = withTime
      ? { dateStyle: "medium", timeStyle: "short" }
      : { dateStyle: "medium" };
    return new Intl.DateTimeFormat(locale, options).format(date);
  }

  function percent(decimal) {
    return new Intl.NumberFormat(locale, { style: "percent", maximumFractionDigits: 2 }).format(
      Number(decimal) / 100
    );
  }

  // ---- accent colour

  function relativeLuminance(hex) {
    const match = /^#?([0-9a-f]{3}|[0-9a-f]{6})$/i.exec(String(hex || "").trim());
    if (!match) {
      return null;
    }
    let digits = match[1];
    if (digits.length === 3) {
      digits = digits.replace(/./g, "$&$&");
    }
    const channels = [0, 2, 4].map((start) => {
      const c = parseInt(digits.slice(start, start + 2), 16) / 255;
      return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * channels[0] + 0.7152 * channels[1] + 0.0722 * channels[2];
  }

  // The accent fills buttons under white text and draws links and focus rings on white, so it
  // is used only when it reaches 4.5:1 against white (WCAG 2.2 AA for text).
  function applyAccent() {
    const luminance = relativeLuminance(branding.accentColor);
    const usable = luminance !== null && 1.05 / (luminance + 0.05) >= 4.5;
    const accent = usable ? branding.accentColor.trim() : DEFAULT_ACCENT;
    root.style.setProperty("--accent", accent.startsWith("#") ? accent : "#" + accent);
  }

  // ---- DOM helpers

  // null, undefined and false remove an attribute; on* add listeners.
  function setAttributes(element, attrs) {
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) {
        element.removeAttribute(name);
      } else if (name.startsWith("on")) {
        element.addEventListener(name.slice(2), value);
      } else {
        element.setAttribute(name, value === true ? "" : String(value));
      }
    }
    return element;
  }

  function h(tag, attrs, ...children) {
    const element = document.createElement(tag);
    setAttributes(element, attrs);
    // append() turns strings into text nodes: nothing here is ever parsed as HTML.
    element.append(
      ...children.flat(Infinity).filter((c) => c !== null && c !== undefined && c !== false)
    );
    return element;
  }

  // Line item ids are GIDs ("gid://shopify/LineItem/1"): element ids keep only safe characters
  // so that they also work in CSS selectors and URL fragments; data-testid keeps the raw id.
  function safeId(id) {
    return String(id).replace(/[^A-Za-z0-9_-]/g, "_");
  }

  function fieldError(fieldId) {
    const message = state.fieldErrors.get(fieldId);
    return message ? h("p", { class: "field-error", id: fieldId + "-error" }, message) : null;
  }

  // Ties a control to its hint and error: aria-describedby plus aria-invalid when in error.
  function describedBy(fieldId, ...hintIds) {
    const ids = hintIds.filter(Boolean);
    const invalid = state.fieldErrors.has(fieldId);
    if (invalid) {
      ids.push(fieldId + "-error");
    }
    return {
      "aria-describedby": ids.length ? ids.join(" ") : null,
      "aria-invalid": invalid ? "true" : null,
    };
  }

  function errorSummary() {
    const box = h("div", {
      class: "error-summary",
      role: "alert",
      tabindex: "-1",
      "data-testid": "error-summary",
      hidden: state.errors.length === 0,
    });
    if (state.errors.length) {
      box.append(
        h("p", { class: "error-summary-title" }, t("error.summaryTitle")),
        h(
          "ul",
          {},
          state.errors.map((error) =>
            h(
              "li",
              {},
              error.focusId
                ? h(
                    "a",
                    { href: "#" + error.focusId, onclick: focusTarget(error.focusId) },
                    error.text
                  )
                : error.text
            )
          )
        )
      );
    }
    return box;
  }

  function focusTarget(id) {
    return (event) => {
      const target = document.getElementById(id);
      if (target) {
        event.preventDefault();
        target.focus();
      }
    };
  }

  function setLive(text) {
    liveRegion.textContent = text || "";
  }

  function button(kind, text, attrs) {
    return h("button", { type: "button", class: "button " + kind, ...attrs }, text);
  }

  function backButton(step) {
    return button("secondary", t("button.back"), {
      "data-testid": "back",
      onclick: () => go(step),
    });
  }

  function nextButton(text, testId) {
    const attrs = { type: "submit", "data-testid": testId || "next" };
    return button("primary", text || t("button.continue"), attrs);
  }

  function retryButton(onclick, id) {
    return actions(
      button("primary", t("button.retry"), { id, "data-testid": id, onclick: () => onclick(true) })
    );
  }

  function actions(...buttons) {
    return h("div", { class: "actions" }, buttons);
  }

  function section(step, heading, ...content) {
    const index = FLOW.indexOf(step);
    return h(
      "section",
      { class: "step", "data-step": step, "aria-labelledby": "step-heading" },
      index >= 0
        ? h(
            "p",
            { class: "step-count" },
            t("page.stepOf", { current: index + 1, total: FLOW.length })
          )
        : null,
      h("h2", { id: "step-heading", tabindex: "-1" }, heading),
      errorSummary(),
      content
    );
  }

  // ---- GraphQL

  class PortalError extends Error {
    constructor(key) {
      super(key);
      this.key = key;
    }
  }

  // body: null without JSON (network failure, a proxy's HTML error page, a plain-text 401).
  async function post(url, contentType, payload) {
    const headers = {
      "Content-Type": contentType,
      Accept: "application/graphql-response+json, application/json",
    };
    if (config.tenantId) {
      headers["X-Tenant-Id"] = config.tenantId;
    }
    let response;
    try {
      response = await fetch(url, {
        method: "POST",
        headers,
        body: payload,
        credentials: "same-origin",
      });
      return { response, body: await response.json() };
    } catch (error) {
      return { response, body: null };
    }
  }

  async function graphql(query, variables) {
    const payload = JSON.stringify({ query, variables: variables || {} });
    const { response, body } = await post(config.graphqlUrl, "application/json", payload);
    if (!body) {
      const limited = response && response.status === 429;
      throw new PortalError(limited ? "error.rateLimited" : "error.unavailable");
    }
    const errors = (body && body.errors) || [];
    if (
      response.status === 429 ||
      errors.some((e) => e && e.extensions && e.extensions.code === "RATE_LIMITED")
    ) {
      throw new PortalError("error.rateLimited");
    }
    if (!response.ok || errors.length || !body.data) {
      throw new PortalError("error.unavailable");
    }
    return body.data;
  }

  // Runs a request with the step's controls locked and the live region saying what happens.
  async function request(busyText, run) {
    if (state.busy) {
      return;
    }
    state.busy = true;
    setBusy(true);
    setLive(busyText);
    try {
      await run();
    } catch (error) {
      showErrors([{ text: t(error instanceof PortalError ? error.key : "error.generic") }]);
    } finally {
      setLive("");
      state.busy = false;
      setBusy(false);
    }
  }

  // The first data of a mode (customer orders, return status); a failure offers a retry button.
  function load(query, variables, moveFocus, assign) {
    state.loadFailed = false;
    request(t("page.loading"), async () => {
      try {
        assign(await graphql(query, variables));
      } catch (error) {
        state.loadFailed = true;
        throw error;
      }
      state.errors = [];
      render(moveFocus === true);
    });
  }

  function setBusy(busy) {
    for (const button of root.querySelectorAll(".step button")) {
      button.disabled = busy;
    }
  }

  // ---- navigation

  // Each step change is an entry in the browser's history, so that its Back and Forward move
  // between steps; `fromHistory`: the entry is there already (popstate), it names `step`.
  function go(step, errors, fieldErrors, fromHistory) {
    if (fromHistory) {
      history.replaceState({ ...history.state, step }, "");
    } else if (step !== state.step) {
      history.pushState({ step }, "");
    }
    state.step = step;
    state.errors = errors || [];
    state.fieldErrors = fieldErrors || new Map();
    render(true);
  }

  // Back or Forward may lead past a step changed since: the first one whose values are missing
  // or wrong is shown instead, with its errors.
  function revisit(step) {
    if (step === "confirmation" ? !state.created : step !== "find" && !state.order) {
      go("find", [], null, true);
      return;
    }
    for (const earlier of FLOW.slice(1, Math.max(FLOW.indexOf(step), 1))) {
      const check = CHECKS[earlier]();
      if (check.errors.length) {
        go(earlier, check.errors, check.fieldErrors, true);
        return;
      }
    }
    go(step, [], null, true);
  }

  // Continue: the step's values are saved as they change (`save` once more, to be sure), then
  // checked from the state.
  function onNext(step, save) {
    return (event) => {
      event.preventDefault();
      save();
      const check = CHECKS[step]();
      if (check.errors.length) {
        showErrors(check.errors, check.fieldErrors);
      } else {
        go(FLOW[FLOW.indexOf(step) + 1]);
      }
    };
  }

  // Re-renders the current step (values come from state) with its errors, focus on the summary.
  function showErrors(errors, fieldErrors) {
    go(state.step, errors, fieldErrors);
  }

  function render(moveFocus) {
    const next = RENDERERS[state.step]();
    stepHost.replaceChildren(next);
    if (!moveFocus) {
      return;
    }
    const summary = next.querySelector(".error-summary");
    const target = state.errors.length ? summary : next.querySelector("h2");
    target.focus();
  }

  function errorCollector() {
    const errors = [];
    const fieldErrors = new Map();
    return {
      errors,
      fieldErrors,
      add(fieldId, focusId, label, message) {
        fieldErrors.set(fieldId, message);
        errors.push({ text: t("error.fieldMessage", { label, message }), focusId });
      },
    };
  }

  // ---- step: find the order

  function renderFind() {
    return config.mode === "customer"
      ? renderCustomerOrders()
      : section("find", t("find.heading"), lookupForm());
  }

  function lookupForm() {
    const numberHint = "order-number-hint";
    const emailHint = "email-hint";
    return h(
      "form",
      {
        class: "form",
        "data-testid": "lookup-form",
        novalidate: true,
        onsubmit: onLookup,
        // Kept as typed, for Back: the fields are named after their state.
        oninput: (event) => {
          state[event.target.name] = event.target.value;
        },
      },
      h(
        "div",
        { class: "field" },
        h("label", { for: "order-number" }, t("find.orderNumber")),
        h("p", { class: "hint", id: numberHint }, t("find.orderNumberHint")),
        fieldError("order-number"),
        h("input", {
          id: "order-number",
          name: "orderNumber",
          type: "text",
          autocomplete: "off",
          required: true,
          value: state.orderNumber,
          ...describedBy("order-number", numberHint),
        })
      ),
      h(
        "div",
        { class: "field" },
        h("label", { for: "email" }, t("find.email")),
        h("p", { class: "hint", id: emailHint }, t("find.emailHint")),
        fieldError("email"),
        h("input", {
          id: "email",
          name: "email",
          type: "email",
          autocomplete: "email",
          spellcheck: "false",
          required: true,
          value: state.email,
          ...describedBy("email", emailHint),
        })
      ),
      actions(nextButton(t("find.submit")))
    );
  }

  function onLookup(event) {
    event.preventDefault();
    const form = event.currentTarget;
    state.orderNumber = form.elements.orderNumber.value.trim();
    state.email = form.elements.email.value.trim();
    const check = errorCollector();
    if (!state.orderNumber) {
      check.add("order-number", "order-number", t("find.orderNumber"), t("error.required"));
    }
    if (!state.email) {
      check.add("email", "email", t("find.email"), t("error.required"));
    } else if (!/^[^\s@]+@[^\s@]+$/.test(state.email)) {
      check.add("email", "email", t("find.email"), t("error.email"));
    }
    if (check.errors.length) {
      showErrors(check.errors, check.fieldErrors);
      return;
    }
    request(t("find.searching"), async () => {
      const data = await graphql(LOOKUP, { orderNumber: state.orderNumber, email: state.email });
      if (!data.lookupOrder) {
        showErrors([{ text: t("error.notFound") }]);
        return;
      }
      chooseOrder(data.lookupOrder, state.email);
    });
  }

  // Older orders than those listed, and guest checkouts, are found by number and email as
  // guests do: below the list on request, at once when there is no list.
  function renderCustomerOrders() {
    const listed = Boolean(state.orders && state.orders.length);
    let body;
    if (state.orders === null) {
      body = state.loadFailed ? retryButton(loadCustomerOrders) : null;
    } else if (!listed) {
      body = h("p", {}, t("find.noOrders"));
    } else {
      body = h(
        "ul",
        { class: "order-list" },
        state.orders.map((order) => {
          const noteId = "order-note-" + safeId(order.id);
          const blocked = !order.eligible && order.ineligibleReason;
          return h(
            "li",
            {},
            h(
              "button",
              {
                type: "button",
                class: "order-button",
                "data-testid": "order-" + order.orderNumber,
                "aria-describedby": blocked ? noteId : null,
                onclick: () => chooseOrder(order),
              },
              orderFacts(order)
            ),
            blocked
              ? h(
                  "p",
                  { class: "hint", id: noteId },
                  enumLabel("ineligible.", order.ineligibleReason)
                )
              : null
          );
        })
      );
    }
    const loading = state.orders === null && !state.loadFailed;
    const toggle =
      listed &&
      actions(
        button("secondary", t("find.byNumber"), {
          id: "lookup-toggle",
          "aria-expanded": String(state.lookupOpen),
          onclick: () => {
            state.lookupOpen = !state.lookupOpen;
            render(false);
            document.getElementById("lookup-toggle").focus();
          },
        })
      );
    const form = !loading && (state.lookupOpen || !listed) && lookupForm();
    return section("find", t("find.headingCustomer"), body, toggle, form);
  }

  const loadCustomerOrders = (moveFocus) =>
    load(CUSTOMER_ORDERS, {}, moveFocus, (data) => {
      state.orders = data.customerOrders || [];
    });

  // Spaces between the parts keep them apart in accessible names (the order buttons).
  function orderFacts(order) {
    return [
      h("span", { class: "order-name" }, t("order.label", { name: order.name })),
      " ",
      h("span", {}, t("order.placedOn", { date: formatDate(order.createdAt) })),
      " ",
      h("span", {}, money(order.totalPrice)),
    ];
  }

  // email: what found the order (the lookup), null for a signed-in customer's listed order.
  function chooseOrder(order, email) {
    state.orderEmail = email || null;
    if (!state.order || state.order.id !== order.id) {
      state.lines = new Map();
      state.resolution = null;
      state.method = null;
      state.exchange = null;
    }
    state.order = order;
    const resolutions = offeredResolutions();
    if (resolutions.length === 1) {
      state.resolution = resolutions[0];
    }
    if (order.allowedMethods.length === 1) {
      state.method = order.allowedMethods[0];
    }
    go("items");
  }

  // ---- step: items

  function returnable(line) {
    return line.eligible && line.returnableQuantity > 0;
  }

  function canReturnOrder(order) {
    return (
      order.lineItems.some(returnable) &&
      (order.eligible || order.ineligibleReason === "NO_RETURNABLE_ITEMS")
    );
  }

  function lineTitle(line) {
    return line.variantTitle ? line.title + " – " + line.variantTitle : line.title;
  }

  function renderItems() {
    const order = state.order;
    const open = canReturnOrder(order);
    const content = [h("p", { class: "order-summary" }, orderFacts(order))];
    if (open && order.returnWindowEndsAt) {
      content.push(
        h(
          "p",
          { class: "hint" },
          t("order.windowEnds", { date: formatDate(order.returnWindowEndsAt) })
        )
      );
    }
    if (!open) {
      content.push(
        h(
          "div",
          { class: "notice" },
          h("p", {}, t("items.orderIneligible")),
          order.ineligibleReason
            ? h("p", {}, enumLabel("ineligible.", order.ineligibleReason))
            : null
        )
      );
    }
    content.push(existingReturns(order));
    const groupId = "items-group";
    const lines = order.lineItems.map((line) => renderLine(line, open));
    content.push(
      h(
        "form",
        {
          class: "form",
          novalidate: true,
          onsubmit: onNext("items", saveItems),
          oninput: saveItems,
        },
        h(
          "fieldset",
          { id: groupId, ...describedBy(groupId), "aria-invalid": null },
          h("legend", {}, t("items.legend")),
          fieldError(groupId),
          h("ul", { class: "line-list" }, lines)
        ),
        actions(backButton("find"), open ? nextButton() : null)
      )
    );
    return section("items", t("items.heading"), content);
  }

  function renderLine(line, open) {
    const sid = safeId(line.id);
    const checkId = "item-" + sid;
    const quantityId = "quantity-" + sid;
    const titleId = "title-" + sid;
    const detailId = "detail-" + sid;
    const reasonId = "why-" + sid;
    const selectable = open && returnable(line);
    const chosen = state.lines.get(line.id);
    const details = [money(line.price), t("items.purchased", { quantity: line.quantity })];
    if (selectable && line.returnableQuantity !== line.quantity) {
      details.push(t("items.returnable", { quantity: line.returnableQuantity }));
    }
    const item = h(
      "li",
      { class: selectable ? "line" : "line is-ineligible" },
      h(
        "div",
        { class: "check" },
        h("input", {
          type: "checkbox",
          id: checkId,
          name: "item",
          value: line.id,
          "data-testid": "item-" + line.id,
          checked: Boolean(selectable && chosen),
          disabled: !selectable,
          // The quantity shows only for a chosen line (and is disabled, so never read, otherwise).
          onchange: (event) => {
            const quantity = document.getElementById(quantityId);
            if (quantity) {
              quantity.disabled = !event.currentTarget.checked;
              quantity.parentElement.hidden = quantity.disabled;
            }
          },
          ...describedBy(checkId, detailId, !selectable && line.ineligibleReason && reasonId),
        }),
        h("label", { for: checkId, id: titleId, class: "line-title" }, lineTitle(line))
      ),
      h("p", { class: "hint", id: detailId }, details.join(" · ")),
      !selectable && line.ineligibleReason
        ? h("p", { class: "reason", id: reasonId }, enumLabel("ineligible.", line.ineligibleReason))
        : null,
      fieldError(checkId)
    );
    if (selectable) {
      item.append(
        h(
          "div",
          { class: "field quantity", hidden: !chosen },
          h("label", { for: quantityId }, t("items.quantity")),
          fieldError(quantityId),
          h("input", {
            type: "number",
            id: quantityId,
            name: "quantity-" + sid,
            "data-testid": "quantity-" + line.id,
            inputmode: "numeric",
            min: "1",
            max: String(line.returnableQuantity),
            step: "1",
            value: chosen ? String(chosen.quantity) : "1",
            disabled: !chosen,
            ...describedBy(quantityId, titleId),
          })
        )
      );
    }
    return item;
  }

  function existingReturns(order) {
    if (!order.returns || !order.returns.length) {
      return null;
    }
    return h(
      "div",
      { class: "existing" },
      h("h3", {}, t("items.existingHeading")),
      h(
        "ul",
        { "data-testid": "existing-returns" },
        order.returns.map((ret) =>
          h(
            "li",
            {},
            h("span", { class: "reference" }, ret.reference),
            " · ",
            h("span", {}, enumLabel("returnStatus.", ret.status)),
            " · ",
            h("span", {}, t("returns.requestedOn", { date: formatDate(ret.createdAt) })),
            " ",
            h(
              "a",
              { href: statusUrl(ret.statusToken) },
              t("returns.viewStatus", { reference: ret.reference })
            )
          )
        )
      )
    );
  }

  // Entries of chosen lines live on (reason, note and photos, even uploading ones) while
  // their box stays checked; the quantity is kept as typed, checked on Continue.
  function saveItems() {
    const lines = new Map();
    for (const line of state.order.lineItems) {
      const sid = safeId(line.id);
      const box = document.getElementById("item-" + sid);
      if (box && box.checked) {
        const raw = document.getElementById("quantity-" + sid).value.trim();
        const entry = state.lines.get(line.id) || { reason: "", note: "", photos: [], pending: 0 };
        entry.quantity = /^\d+$/.test(raw) ? Number(raw) : NaN;
        lines.set(line.id, entry);
      }
    }
    state.lines = lines;
    // An exchange is for one line; its options answer stock for the units returned.
    const [lineItemId, entry] = lines.size === 1 ? [...lines][0] : [];
    const exchange = state.exchange;
    if (!lineItemId) {
      state.exchange = null;
    } else if (
      !exchange ||
      exchange.lineItemId !== lineItemId ||
      exchange.quantity !== entry.quantity
    ) {
      const variantId = exchange && exchange.lineItemId === lineItemId ? exchange.variantId : null;
      state.exchange = {
        lineItemId,
        quantity: entry.quantity,
        variantId,
        status: "idle",
        options: [],
      };
    }
    if (!offeredResolutions().includes(state.resolution)) {
      state.resolution = null; // an exchange, no longer for one line
    }
  }

  function checkItems() {
    const check = errorCollector();
    for (const line of chosenLines()) {
      const quantityId = "quantity-" + safeId(line.id);
      const quantity = state.lines.get(line.id).quantity;
      if (!(quantity >= 1 && quantity <= line.returnableQuantity)) {
        const message = t("error.quantity", { max: line.returnableQuantity });
        check.add(quantityId, quantityId, lineTitle(line), message);
      }
    }
    if (!state.lines.size) {
      const first = canReturnOrder(state.order) && state.order.lineItems.find(returnable);
      const focusId = first && "item-" + safeId(first.id);
      check.add("items-group", focusId, t("items.legend"), t("error.selectItem"));
    }
    return check;
  }

  function chosenLines() {
    return state.order.lineItems.filter((line) => state.lines.has(line.id));
  }

  // ---- step: reasons

  function renderReasons() {
    const groups = chosenLines().map((line) => {
      const sid = safeId(line.id);
      const chosen = state.lines.get(line.id);
      const reasonId = "reason-" + sid;
      const noteId = "note-" + sid;
      const noteHint = noteId + "-hint";
      return h(
        "fieldset",
        { class: "item-reasons" },
        h(
          "legend",
          {},
          t("reasons.itemLegend", { title: lineTitle(line), quantity: chosen.quantity })
        ),
        h(
          "div",
          { class: "field" },
          h("label", { for: reasonId }, t("reasons.reason")),
          fieldError(reasonId),
          h(
            "select",
            {
              id: reasonId,
              name: reasonId,
              "data-testid": "reason-" + line.id,
              required: true,
              onchange: (event) => {
                const photos = document.getElementById("photos-field-" + sid);
                photos.hidden = !PHOTO_REASONS.includes(event.currentTarget.value);
              },
              ...describedBy(reasonId),
            },
            h("option", { value: "" }, t("reasons.choose")),
            REASONS.map((reason) =>
              h(
                "option",
                { value: reason, selected: chosen.reason === reason },
                enumLabel("reason.", reason)
              )
            )
          )
        ),
        photoField(line, chosen),
        h(
          "div",
          { class: "field" },
          h("label", { for: noteId }, t("reasons.note")),
          h("p", { class: "hint", id: noteHint }, t("reasons.noteHint", { max: NOTE_MAX })),
          fieldError(noteId),
          h(
            "textarea",
            {
              id: noteId,
              name: noteId,
              "data-testid": "note-" + line.id,
              rows: "3",
              maxlength: String(NOTE_MAX),
              ...describedBy(noteId, noteHint),
            },
            chosen.note
          )
        )
      );
    });
    const next = nextButton();
    next.disabled = uploading();
    return section(
      "reasons",
      t("reasons.heading"),
      h(
        "form",
        {
          class: "form",
          novalidate: true,
          onsubmit: onNext("reasons", saveReasons),
          oninput: saveReasons,
        },
        groups,
        actions(backButton("items"), next)
      )
    );
  }

  function saveReasons() {
    for (const line of chosenLines()) {
      const sid = safeId(line.id);
      const chosen = state.lines.get(line.id);
      chosen.reason = document.getElementById("reason-" + sid).value;
      chosen.note = document.getElementById("note-" + sid).value;
    }
  }

  function checkReasons() {
    const check = errorCollector();
    for (const line of chosenLines()) {
      const sid = safeId(line.id);
      const chosen = state.lines.get(line.id);
      if (!chosen.reason) {
        check.add("reason-" + sid, "reason-" + sid, lineTitle(line), t("error.chooseReason"));
      }
      if (chosen.note.length > NOTE_MAX) {
        const message = t("error.noteTooLong", { max: NOTE_MAX });
        check.add("note-" + sid, "note-" + sid, lineTitle(line), message);
      }
    }
    return check;
  }

  // ---- photos (reasons step)

  const photoWorthy = (entry) => PHOTO_REASONS.includes(entry.reason);

  function uploading() {
    return chosenLines().some((line) => state.lines.get(line.id).pending > 0);
  }

  // syncPhotos redraws around the file input, which keeps focus; the error is a live region.
  function photoField(line, entry) {
    const sid = safeId(line.id);
    const inputId = "photos-" + sid;
    const field = h(
      "div",
      { class: "field photos", id: "photos-field-" + sid, hidden: !photoWorthy(entry) },
      h("label", { for: inputId }, t("photos.label")),
      h("p", { class: "hint", id: inputId + "-hint" }, t("photos.hint", { max: PHOTO_MAX })),
      h("p", { class: "field-error", id: inputId + "-error", role: "alert" }),
      h("input", {
        type: "file",
        id: inputId,
        accept: PHOTO_TYPES.join(","),
        multiple: true,
        "data-testid": "photos-" + line.id,
        onchange: (event) => addPhotos(line, entry, event.currentTarget),
      }),
      h("p", { class: "upload-status", role: "status" }),
      h("ul", { class: "photo-list" })
    );
    syncPhotos(line, entry, field);
    return field;
  }

  function syncPhotos(line, entry, field) {
    const sid = safeId(line.id);
    field = field || document.getElementById("photos-field-" + sid);
    if (!field) {
      return; // another step is shown
    }
    const input = field.querySelector("input");
    field.querySelector(".field-error").textContent = state.fieldErrors.get(input.id) || "";
    setAttributes(input, describedBy(input.id, input.id + "-hint"));
    field.querySelector(".upload-status").textContent = entry.pending
      ? t("photos.uploading")
      : entry.photoStatus || "";
    field.querySelector(".photo-list").replaceChildren(
      ...entry.photos.map((photo, index) => {
        const n = index + 1;
        setAttributes(photo.preview, {
          role: "img",
          class: "photo-preview",
          "data-testid": `photo-preview-${line.id}-${n}`,
          "aria-label": t("photos.preview", { n }),
        });
        return h(
          "li",
          { class: "photo" },
          photo.preview,
          button("secondary", t("photos.remove", { n }), {
            id: `photo-remove-${sid}-${n}`,
            "data-testid": `photo-remove-${line.id}-${n}`,
            onclick: () => removePhoto(line, entry, index),
          })
        );
      })
    );
    const next = document.querySelector('[data-step="reasons"] [data-testid="next"]');
    if (next) {
      next.disabled = uploading();
    }
  }

  async function addPhotos(line, entry, input) {
    const files = [...input.files];
    input.value = ""; // the same file can be chosen again
    const room = Math.max(0, PHOTO_MAX - entry.photos.length - entry.pending);
    setPhotoError(input.id, files.length > room && t("error.photoLimit", { max: PHOTO_MAX }));
    entry.photoStatus = "";
    const taken = files.slice(0, room);
    entry.pending += taken.length;
    syncPhotos(line, entry);
    // One at a time: phones have little memory.
    for (const file of taken) {
      try {
        entry.photos.push(await sendPhoto(file));
        entry.photoStatus = t("photos.added", { count: entry.photos.length, max: PHOTO_MAX });
      } catch (error) {
        const message = t(error instanceof PortalError ? error.key : "error.unavailable");
        setPhotoError(input.id, t("photos.fileError", { name: file.name, message }));
      }
      entry.pending -= 1;
      if (state.lines.get(line.id) !== entry) {
        return; // the line was dropped meanwhile
      }
      syncPhotos(line, entry);
    }
  }

  // Until the field is used again or the step changes, like other errors.
  const setPhotoError = (fieldId, message) =>
    message ? state.fieldErrors.set(fieldId, message) : state.fieldErrors.delete(fieldId);

  function removePhoto(line, entry, index) {
    entry.photos.splice(index, 1);
    setPhotoError("photos-" + safeId(line.id));
    entry.photoStatus = t("photos.removed", { n: index + 1 });
    syncPhotos(line, entry);
    // Focus: the next photo's button, else the previous one, else the input.
    const sid = safeId(line.id);
    const n = Math.min(index + 1, entry.photos.length);
    document.getElementById(n ? `photo-remove-${sid}-${n}` : "photos-" + sid).focus();
  }

  // `source` fit in `side` px, on white (JPEG has no transparency).
  function drawn(source, side) {
    const scale = Math.min(1, side / Math.max(source.width, source.height));
    const canvas = h("canvas", {
      width: Math.max(1, Math.round(source.width * scale)),
      height: Math.max(1, Math.round(source.height * scale)),
    });
    const context = canvas.getContext("2d");
    context.fillStyle = "#fff";
    context.fillRect(0, 0, canvas.width, canvas.height);
    context.drawImage(source, 0, 0, canvas.width, canvas.height);
    return canvas;
  }

  const jpeg = (canvas, quality) =>
    new Promise((resolve) => canvas.toBlob(resolve, "image/jpeg", quality));

  // {token, preview}, else a PortalError. createImageBitmap: the CSP has no blob: for an <img>.
  async function sendPhoto(file) {
    // Some systems give no type: then decoding decides.
    const typed = !file.type || PHOTO_TYPES.includes(file.type);
    const bitmap = typed && (await createImageBitmap(file).catch(() => 0));
    if (!bitmap) {
      throw new PortalError("error.photoNotImage");
    }
    const full = drawn(bitmap, PHOTO_SIDE);
    bitmap.close();
    const preview = drawn(full, PREVIEW_SIDE);
    let blob = await jpeg(full, 0.85);
    // A detailed photo can pass the server's limit at 0.85.
    if (blob && blob.size > PHOTO_BYTES) {
      blob = await jpeg(full, 0.7);
    }
    if (!blob) {
      throw new PortalError("error.photoNotImage");
    }
    const { response, body } = await post(config.photosUrl, "image/jpeg", blob);
    if (body && response.status === 201 && body.token) {
      return { token: body.token, preview };
    }
    const refusals = {
      too_large: "error.photoTooLarge",
      not_an_image: "error.photoNotImage",
      too_many: "error.photoTooMany",
    };
    const known = body && [413, 415, 429].includes(response.status) && refusals[body.error];
    throw new PortalError(known || "error.unavailable");
  }

  // ---- steps: resolution and method (radio groups)

  // An exchange sends one variant for the returned units: one line only.
  function offeredResolutions() {
    return state.order.allowedResolutions.filter(
      (type) =>
        OFFERED_RESOLUTIONS.includes(type) || (type === "EXCHANGE" && state.lines.size === 1)
    );
  }

  // A radio, its label and help (ids: id, id + "-help"); a disabled one is greyed.
  function radio(name, value, id, label, help, attrs) {
    const helpId = help.length ? id + "-help" : null;
    return h(
      "div",
      { class: attrs.disabled ? "choice is-unavailable" : "choice" },
      h("input", {
        type: "radio",
        id,
        name,
        value,
        "data-testid": id,
        "aria-describedby": helpId,
        ...attrs,
      }),
      h("label", { for: id }, label),
      helpId && h("p", { class: "hint", id: helpId }, help.join(" "))
    );
  }

  // The step is named after its state ("resolution", "method"), kept as soon as chosen.
  function radioStep(step, options) {
    const groupId = step + "-group";
    const save = () => {
      const checked = document.querySelector(`input[name="${step}"]:checked`);
      state[step] = checked ? checked.value : state[step];
    };
    const body = options.values.length
      ? h(
          "fieldset",
          { id: groupId, role: "radiogroup", ...describedBy(groupId) },
          h("legend", {}, t(step + ".legend")),
          fieldError(groupId),
          h(
            "div",
            { class: "choices" },
            options.values.map((value) =>
              radio(step, value, step + "-" + value, options.label(value), options.help(value), {
                checked: state[step] === value,
              })
            )
          )
        )
      : h("p", { class: "notice" }, t(step + ".none"));
    return section(
      step,
      t(step + ".heading"),
      h(
        "form",
        {
          class: "form",
          novalidate: true,
          onsubmit: onNext(step, save),
          onchange: (event) => {
            save();
            if (options.onchange) {
              options.onchange(event);
            }
          },
        },
        body,
        options.extra,
        actions(backButton(options.back), options.values.length ? nextButton() : null)
      )
    );
  }

  // A radio step's error: the group named, the first choice to go to.
  function radioError(step, errorKey, values) {
    const check = errorCollector();
    const focusId = values.length ? step + "-" + values[0] : null;
    check.add(step + "-group", focusId, t(step + ".legend"), t(errorKey));
    return check;
  }

  function checkResolution() {
    const values = offeredResolutions();
    if (!values.includes(state.resolution)) {
      return radioError("resolution", "error.chooseResolution", values);
    }
    const check = errorCollector();
    if (state.resolution === "EXCHANGE" && !chosenVariant()) {
      const { options, status } = state.exchange;
      const first = options.find((option) => option.inStock);
      const focusId = first
        ? "exchange-" + safeId(first.variantId)
        : status === "failed" && "exchange-retry";
      check.add("exchange-group", focusId, t("exchange.legend"), t("error.chooseExchange"));
    }
    return check;
  }

  function checkMethod() {
    const values = state.order.allowedMethods;
    return values.includes(state.method)
      ? errorCollector()
      : radioError("method", "error.chooseMethod", values);
  }

  function renderResolution() {
    const bonus = Number(state.order.storeCreditBonusPercent || 0);
    return radioStep("resolution", {
      values: offeredResolutions(),
      back: "reasons",
      label: (value) => enumLabel("resolution.", value),
      help: (value) => {
        const help = [enumLabel("resolutionHelp.", value)];
        if (value === "STORE_CREDIT" && bonus > 0) {
          help.push(
            t("resolution.storeCreditBonus", {
              percent: percent(state.order.storeCreditBonusPercent),
            })
          );
        }
        return help;
      },
      extra: state.exchange && exchangePicker(),
      // The picker follows the choice; the variant is kept as soon as chosen.
      onchange: (event) => {
        const input = event.target;
        if (input.name === "resolution") {
          refreshExchange();
        } else if (input.name === "exchange") {
          state.exchange.variantId = input.value;
        }
      },
    });
  }

  const chosenVariant = () =>
    state.exchange &&
    state.exchange.options.find((o) => o.inStock && o.variantId === state.exchange.variantId);

  // Shown while EXCHANGE is chosen; loaded then, redrawn in place (focus stays) when answered.
  function exchangePicker() {
    const { status, options, variantId, messageKey } = state.exchange;
    const groupId = "exchange-group";
    const listed = options.length > 0;
    if (state.resolution === "EXCHANGE" && status === "idle") {
      queueMicrotask(loadExchange); // once the step is in the page
    }
    const choices = options.map(({ variantId: value, title, price, inStock }) =>
      radio(
        "exchange",
        value,
        "exchange-" + safeId(value),
        t("exchange.option", { title, price: money(price) }),
        inStock ? [] : [t("exchange.outOfStock")],
        {
          "data-testid": "exchange-" + value,
          checked: inStock && variantId === value,
          disabled: !inStock,
        }
      )
    );
    const failed = status === "failed";
    const text = t(status === "ready" ? "exchange.none" : failed ? messageKey : "exchange.loading");
    return h(
      "fieldset",
      {
        id: groupId,
        class: "exchange",
        tabindex: "-1",
        role: listed ? "radiogroup" : null,
        hidden: state.resolution !== "EXCHANGE",
        ...describedBy(groupId),
      },
      h("legend", {}, t("exchange.legend")),
      fieldError(groupId),
      listed ? h("div", { class: "choices" }, choices) : h("p", {}, text),
      failed ? retryButton(loadExchange, "exchange-retry") : null
    );
  }

  function refreshExchange() {
    const current = document.getElementById("exchange-group");
    if (current) {
      const next = exchangePicker();
      const hadFocus = current.contains(document.activeElement);
      current.replaceWith(next);
      if (hadFocus) {
        (next.querySelector("input:enabled, button") || next).focus();
      }
    }
  }

  async function loadExchange() {
    const exchange = state.exchange;
    if (!exchange || exchange.status === "loading") {
      return;
    }
    Object.assign(exchange, { status: "loading", options: [] });
    refreshExchange();
    setLive(t("exchange.loading"));
    const { lineItemId, quantity } = exchange;
    const email = state.orderEmail || undefined; // omitted: the signed-in customer's order
    const variables = { orderId: state.order.id, email, lineItemId, quantity };
    let found;
    let key = "exchange.unavailable"; // available: false
    try {
      found = (await graphql(EXCHANGE_OPTIONS, variables)).exchangeOptions;
      key = found ? key : "error.generic"; // null: no such order
    } catch (error) {
      key = error instanceof PortalError ? error.key : "error.generic";
    }
    const ready = Boolean(found && found.available);
    const options = (ready && found.options) || [];
    Object.assign(exchange, { status: ready ? "ready" : "failed", options, messageKey: key });
    if (state.exchange !== exchange) {
      return; // the line or its quantity changed meanwhile: asked again
    }
    setLive(ready ? "" : t(key));
    refreshExchange(); // if the step is still shown
  }

  function renderMethod() {
    return radioStep("method", {
      values: state.order.allowedMethods,
      back: "resolution",
      label: (value) => enumLabel("method.", value),
      help: (value) => [enumLabel("methodHelp.", value)],
    });
  }

  // ---- step: review and submit

  function summaryRow(label, ...value) {
    return [h("dt", {}, label), h("dd", {}, value)];
  }

  // Items of a return as [{title, quantity, reason, note, photos (a count)}] (review, status).
  function itemList(items) {
    return h(
      "ul",
      { class: "review-items" },
      items.map((item) =>
        h(
          "li",
          {},
          h("span", { class: "line-title" }, t("review.itemLine", item)),
          item.reason
            ? h(
                "span",
                { class: "hint" },
                t("review.reason", { reason: enumLabel("reason.", item.reason) })
              )
            : null,
          item.note ? h("span", { class: "note" }, t("review.note", item)) : null,
          item.photos === undefined
            ? null
            : h("span", { class: "hint" }, t("review.photos", { count: item.photos }))
        )
      )
    );
  }

  function renderReview() {
    submission(); // reaching the review: the request gets its id
    const order = state.order;
    const items = itemList(
      chosenLines().map((line) => {
        const chosen = state.lines.get(line.id);
        const photos = photoWorthy(chosen) ? chosen.photos.length : undefined;
        return { ...chosen, photos, title: lineTitle(line) };
      })
    );
    const bonus = Number(order.storeCreditBonusPercent || 0);
    const resolution = [enumLabel("resolution.", state.resolution)];
    if (state.resolution === "STORE_CREDIT" && bonus > 0) {
      resolution.push(
        h(
          "span",
          { class: "hint" },
          t("review.bonus", { percent: percent(order.storeCreditBonusPercent) })
        )
      );
    }
    const variant = state.resolution === "EXCHANGE" && chosenVariant();
    if (variant) {
      const text = t("review.exchange", { ...variant, price: money(variant.price) });
      resolution.push(h("span", { class: "hint", "data-testid": "review-exchange" }, text));
    }
    return section(
      "review",
      t("review.heading"),
      h(
        "dl",
        { class: "summary" },
        summaryRow(t("review.order"), order.name),
        state.orderEmail ? summaryRow(t("review.email"), state.orderEmail) : null,
        summaryRow(t("review.items"), items),
        summaryRow(t("review.resolution"), resolution),
        summaryRow(t("review.method"), enumLabel("method.", state.method))
      ),
      h(
        "form",
        { class: "form", novalidate: true, onsubmit: onSubmit },
        actions(backButton("method"), nextButton(t("review.submit"), "submit"))
      )
    );
  }

  // The createReturn input of the request reviewed. Its requestId stays while the request
  // does, so that resubmitting it (a network error, a 5xx, a lost answer) gets the return a
  // first attempt created rather than a second one; any change makes a new request.
  function submission() {
    const items = chosenLines().map((line) => {
      const chosen = state.lines.get(line.id);
      const item = {
        lineItemId: line.id,
        quantity: chosen.quantity,
        reason: chosen.reason,
        note: chosen.note.trim() || null,
      };
      if (photoWorthy(chosen) && chosen.photos.length) {
        item.photoTokens = chosen.photos.map((photo) => photo.token);
      }
      return item;
    });
    const input = {
      orderId: state.order.id,
      customerEmail: state.orderEmail || undefined, // omitted: the signed-in customer's order
      returnMethod: state.method,
      items,
      resolutionType: state.resolution,
      exchangeVariantId: state.resolution === "EXCHANGE" ? state.exchange.variantId : undefined,
    };
    const key = JSON.stringify(input);
    if (!state.submission || state.submission.key !== key) {
      state.submission = { key, input: { ...input, requestId: newRequestId() } };
    }
    return state.submission.input;
  }

  // randomUUID exists only in secure contexts (HTTPS, localhost); getRandomValues everywhere.
  function newRequestId() {
    if (crypto.randomUUID) {
      return crypto.randomUUID();
    }
    const bytes = crypto.getRandomValues(new Uint8Array(16));
    return Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("");
  }

  function onSubmit(event) {
    event.preventDefault();
    const input = submission();
    request(t("review.submitting"), async () => {
      const data = await graphql(CREATE, { input });
      const payload = data.createReturn || {};
      if (payload.userErrors && payload.userErrors.length) {
        showUserErrors(payload.userErrors, input.items);
        return;
      }
      if (!payload.return) {
        throw new PortalError("error.generic");
      }
      state.created = payload.return;
      go("confirmation");
    });
  }

  // Maps a createReturn userError by its field and code together (paths may be snake_case or
  // camelCase): the same code means different things on different fields.
  function mapUserError(userError, items) {
    const path = (userError.field || []).map((part) =>
      String(part).replace(/_/g, "").toLowerCase()
    );
    const [field, index, part] = path;
    const code = userError.code;
    const at = (step, fieldId, label, message) => ({ step, fieldId, label, message });
    const submitted = field === "items" && part && items[Number(index)];
    const line = submitted && state.order.lineItems.find((l) => l.id === submitted.lineItemId);
    if (line) {
      const sid = safeId(line.id);
      const label = lineTitle(line);
      if (part === "quantity") {
        const message =
          code === "QUANTITY_EXCEEDS_RETURNABLE"
            ? t("error.quantityTaken")
            : t("error.quantity", { max: line.returnableQuantity });
        return at("items", "quantity-" + sid, label, message);
      }
      if (part === "reason") {
        return at("reasons", "reason-" + sid, label, t("error.chooseReason"));
      }
      if (part === "note") {
        return at("reasons", "note-" + sid, label, t("error.noteTooLong", { max: NOTE_MAX }));
      }
      if (part === "phototokens") {
        return at("reasons", "photos-" + sid, label, t("error.photoLimit", { max: PHOTO_MAX }));
      }
      return at("items", "item-" + sid, label, t("error.itemNotReturnable"));
    }
    if (field === "customeremail" && code === "BLANK") {
      // Guests always send it; a signed-in customer's session lapsed: the server wants it.
      return config.mode === "customer"
        ? { step: "find", focusId: "order-number", message: t("error.signInAgain") }
        : at("find", "email", t("find.email"), t("error.required"));
    }
    if (field === "orderid" && code === "ORDER_NOT_FOUND") {
      // Without an email, the order was the signed-in customer's: signed out, or as another.
      const key = state.orderEmail ? "error.notFound" : "error.signInAgain";
      return { step: "find", focusId: "order-number", message: t(key) };
    }
    if (field === "exchangevariantid") {
      const key = {
        EXCHANGE_OUT_OF_STOCK: "error.exchangeOutOfStock",
        EXCHANGE_VARIANT_NOT_FOUND: "error.exchangeNotFound",
        EXCHANGE_VARIANT_REQUIRED: "error.chooseExchange",
        EXCHANGE_UNAVAILABLE: "error.exchangeUnavailable",
      }[code];
      const message = t(key || "error.resolutionNotAllowed");
      return at("resolution", "exchange-group", t("exchange.legend"), message);
    }
    if (field === "items" && code === "PHOTO_NOT_FOUND") {
      // Which photo is gone is not said: all are dropped, to be added again.
      const withPhotos = items.find((item) => item.photoTokens);
      const focusId = withPhotos && "photos-" + safeId(withPhotos.lineItemId);
      return { step: "reasons", focusId, message: t("error.photoNotFound") };
    }
    if (field === "items" && code === "BLANK") {
      return at("items", "items-group", t("items.legend"), t("error.selectItem"));
    }
    if (field === "returnmethod") {
      return at("method", "method-group", t("method.legend"), t("error.methodNotAllowed"));
    }
    if (field === "resolutiontype") {
      const message = t("error.resolutionNotAllowed");
      return at("resolution", "resolution-group", t("resolution.legend"), message);
    }
    // ORDER_NOT_ELIGIBLE: on the order, or on the email of a customer the shop blocks.
    const general = {
      ORDER_NOT_ELIGIBLE: "error.orderNotEligible",
      TOO_LONG: field === "items" && "error.tooManyItems",
      QUANTITY_EXCEEDS_RETURNABLE: field === "items" && "error.itemsChanged",
    };
    return { message: t(general[code] || "error.generic") };
  }

  function showUserErrors(userErrors, items) {
    const mapped = userErrors.map((userError) => mapUserError(userError, items));
    const codes = userErrors.map((userError) => userError.code);
    if (codes.includes("PHOTO_NOT_FOUND")) {
      for (const entry of state.lines.values()) {
        entry.photos = [];
        entry.photoStatus = "";
      }
    }
    if (codes.some((c) => /^EXCHANGE_(OUT_OF_STOCK|VARIANT_NOT_FOUND)$/.test(c))) {
      // Stock changed: the options are asked again.
      state.exchange = { ...state.exchange, status: "idle", options: [] };
    }
    state.lookupOpen = state.lookupOpen || mapped.some((m) => m.step === "find");
    const steps = mapped.filter((m) => m.step).map((m) => FLOW.indexOf(m.step));
    const target = steps.length ? FLOW[Math.min(...steps)] : state.step;
    const errors = [];
    const fieldErrors = new Map();
    for (const m of mapped) {
      if (!m.fieldId) {
        errors.push({ text: m.message, focusId: m.step === target ? m.focusId : null });
        continue;
      }
      fieldErrors.set(m.fieldId, m.message);
      // Only the target step's fields exist in the page: the others are listed without a link.
      const onPage = m.step === target;
      const focusId = m.fieldId.endsWith("-group") ? null : m.fieldId;
      errors.push({
        text: t("error.fieldMessage", { label: m.label, message: m.message }),
        focusId: onPage ? focusId : null,
      });
    }
    go(target, errors, fieldErrors);
  }

  // ---- confirmation and status

  function statusUrl(token) {
    return config.statusPath + encodeURIComponent(token);
  }

  function renderConfirmation() {
    const created = state.created;
    return section(
      "confirmation",
      t("confirmation.heading"),
      h(
        "dl",
        { class: "summary" },
        summaryRow(
          t("confirmation.reference"),
          h("strong", { "data-testid": "reference" }, created.reference)
        ),
        summaryRow(t("confirmation.status"), enumLabel("returnStatus.", created.status))
      ),
      h("p", {}, branding.confirmationText || t("confirmation.nextSteps")),
      state.method ? h("p", {}, enumLabel("confirmation.method.", state.method)) : null,
      h("p", {}, t("confirmation.saveLink")),
      h(
        "p",
        {},
        h(
          "a",
          {
            class: "button primary",
            href: statusUrl(created.statusToken),
            "data-testid": "status-link",
          },
          t("confirmation.statusLink")
        )
      ),
      actions(button("secondary", t("confirmation.startOver"), { onclick: startOver }))
    );
  }

  function startOver() {
    Object.assign(state, {
      order: null,
      orderEmail: null,
      lookupOpen: false,
      lines: new Map(),
      resolution: null,
      exchange: null,
      method: null,
      submission: null, // even the same items again are another request
      created: null,
      orders: null,
    });
    go("find");
    if (config.mode === "customer") {
      loadCustomerOrders(true); // refetched: returnable quantities changed with the new return
    }
  }

  function renderStatus() {
    if (state.statusData === undefined) {
      return section(
        "status",
        t("status.loadingHeading"),
        state.loadFailed ? retryButton(loadStatus) : null
      );
    }
    if (state.statusData === null) {
      return section("status", t("status.invalidHeading"), h("p", {}, t("status.invalidBody")));
    }
    const data = state.statusData;
    return section(
      "status",
      t("status.heading", { reference: data.reference }),
      h(
        "dl",
        { class: "summary" },
        summaryRow(t("status.order"), t("order.label", { name: data.orderNumber })),
        summaryRow(t("status.requestedOn"), formatDate(data.createdAt)),
        summaryRow(t("status.current"), h("strong", {}, enumLabel("returnStatus.", data.status))),
        data.resolutionType
          ? summaryRow(t("status.resolution"), enumLabel("resolution.", data.resolutionType))
          : null,
        data.returnMethod
          ? summaryRow(t("status.method"), enumLabel("method.", data.returnMethod))
          : null,
        summaryRow(t("status.items"), itemList(data.items || []))
      ),
      shipmentBlock(data),
      h("h3", {}, t("status.timeline")),
      h(
        "ol",
        { class: "timeline", "data-testid": "timeline" },
        (data.timeline || []).map((entry) =>
          h(
            "li",
            {},
            h("span", { class: "timeline-status" }, enumLabel("returnStatus.", entry.status)),
            h("time", { datetime: entry.at }, formatDate(entry.at, true))
          )
        )
      )
    );
  }

  // Only web addresses are linked (the server sends no other; checked again here).
  function webUrl(value) {
    try {
      const url = new URL(String(value || ""));
      return url.protocol === "https:" || url.protocol === "http:" ? url.href : null;
    } catch (error) {
      return null;
    }
  }

  // A link to the carrier's host, in a new tab, telling it nothing of this page (its address
  // holds the status token). The QR code is linked, not shown: the page's CSP allows images
  // from this origin and the logo's only.
  function carrierLink(href, text, attrs) {
    return h("a", { href, target: "_blank", rel: "noopener noreferrer", ...attrs }, text);
  }

  // The return parcel's label and journey (PREPAID_LABEL and DROP_OFF returns); nothing for
  // a declined or canceled return whose parcel never left.
  function shipmentBlock(data) {
    const shipment = data.shipment;
    const returnStatus = data.status;
    if (!shipment) {
      return null;
    }
    const preparing = LABEL_PREPARING.includes(shipment.status);
    const closed = returnStatus === "DECLINED" || returnStatus === "CANCELED";
    if (closed && (preparing || shipment.status === "LABEL_CREATED")) {
      return null;
    }
    const heading = h("h3", {}, t("shipment.heading"));
    if (preparing) {
      const key = returnStatus === "REQUESTED" ? "shipment.afterApproval" : "shipment.preparing";
      return h(
        "div",
        { class: "shipment notice", "data-testid": "shipment" },
        heading,
        h("p", { "data-testid": "shipment-preparing" }, t(key))
      );
    }
    const labelUrl = webUrl(shipment.labelUrl);
    const qrCodeUrl = webUrl(shipment.qrCodeUrl);
    const trackingUrl = webUrl(shipment.trackingUrl);
    const carrier = [shipment.carrier, shipment.service].filter(Boolean).join(" – ");
    const tracking = shipment.tracking || [];
    const latest = tracking.length ? tracking[tracking.length - 1] : null;
    return h(
      "div",
      { class: "shipment", "data-testid": "shipment" },
      heading,
      h(
        "dl",
        { class: "summary" },
        summaryRow(
          t("shipment.status"),
          h(
            "strong",
            { "data-testid": "shipment-status" },
            enumLabel("shipmentStatus.", shipment.status)
          ),
          latest
            ? h("time", { class: "hint", datetime: latest.at }, formatDate(latest.at, true))
            : null
        ),
        carrier ? summaryRow(t("shipment.carrier"), carrier) : null,
        shipment.trackingNumber
          ? summaryRow(t("shipment.trackingNumber"), shipment.trackingNumber)
          : null
      ),
      labelUrl
        ? h(
            "div",
            { class: "shipment-label" },
            h("p", {}, t("shipment.labelHelp")),
            h(
              "p",
              {},
              carrierLink(labelUrl, t("shipment.printLabel"), {
                class: "button primary",
                "data-testid": "label-link",
              })
            )
          )
        : null,
      qrCodeUrl
        ? h(
            "div",
            { class: "shipment-qr" },
            // Box-free drop-off: the carrier packs the items; else it prints the label.
            h(
              "p",
              {},
              t(data.returnMethod === "DROP_OFF" ? "shipment.qrHelp" : "shipment.qrHelpPrinted", {
                carrier: shipment.carrier || t("shipment.anyCarrier"),
              })
            ),
            h(
              "p",
              {},
              carrierLink(qrCodeUrl, t("shipment.openQr"), {
                class: "button secondary",
                "data-testid": "qr-link",
              })
            )
          )
        : null,
      trackingUrl
        ? h(
            "p",
            {},
            carrierLink(trackingUrl, t("shipment.track"), { "data-testid": "tracking-link" })
          )
        : null
    );
  }

  const loadStatus = (moveFocus) =>
    load(STATUS, { token: config.statusToken || "" }, moveFocus, (data) => {
      state.statusData = data.returnStatus || null;
    });

  const CHECKS = {
    items: checkItems,
    reasons: checkReasons,
    resolution: checkResolution,
    method: checkMethod,
  };

  const RENDERERS = {
    find: renderFind,
    items: renderItems,
    reasons: renderReasons,
    resolution: renderResolution,
    method: renderMethod,
    review: renderReview,
    confirmation: renderConfirmation,
    status: renderStatus,
  };

  // ---- start

  applyAccent();
  const statusMode = config.mode === "status";
  const header = h(
    "header",
    { class: "portal-header" },
    branding.logoUrl
      ? h("img", { class: "logo", src: branding.logoUrl, alt: shop.name || "" })
      : h("p", { class: "shop-name" }, shop.name),
    h("h1", {}, branding.heading || t(statusMode ? "status.pageHeading" : "page.heading")),
    !statusMode ? h("p", { class: "intro" }, branding.intro || t("page.intro")) : null
  );
  const liveRegion = h("p", { class: "live", role: "status" });
  const stepHost = h("div", { class: "portal-body" });
  root.replaceChildren(header, stepHost, liveRegion);

  // The first render leaves focus where the browser put it; only later step changes move it.
  if (statusMode) {
    state.step = "status";
    render(false);
    loadStatus();
  } else {
    history.replaceState({ ...history.state, step: state.step }, "");
    addEventListener("popstate", (event) => {
      const step = event.state && event.state.step;
      if (has(RENDERERS, step) && step !== "status" && !state.busy) {
        revisit(step);
      }
    });
    render(false);
    if (config.mode === "customer") {
      loadCustomerOrders();
    }
  }
})();
