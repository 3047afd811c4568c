// Orderly live status page. Plain JavaScript, no framework and nothing fetched from the
// internet: the gateway often has no uplink. Data: GET /api/v1/status once, then pushes on the
// WebSocket /api/v1/live; while the socket is down the page polls the status instead.
'use strict';

(function () {
  const POLL_MS = 5000;
  const RECONNECT_MIN_MS = 1000;
  const RECONNECT_MAX_MS = 15000;
  const LANG_KEY = 'orderly.lang';

  const TEXT = {
    zh: {
      login_title: '登录', login_user: '用户名', login_password: '密码', login_submit: '登录', logout: '退出',
      login_failed: '登录失败：', invite_title: '设置您的用户名和密码（至少 8 位）', invite_submit: '创建账户',
      invite_done: '账户已创建，请登录',
      site_unknown: '台区', load_title: '配变负载', of_limit: '限值', base_load: '居民用电',
      charging: '充电', headroom: '余量', limit: '限值', history_title: '近 24 小时负载',
      no_history: '暂无历史数据', chargers_title: '充电桩', no_chargers: '暂无充电桩',
      waiting_data: '等待数据…', tariff_title: '当前电价时段', toggle: 'English',
      updated: '更新于', live: '实时推送', polling: '轮询中', lost: '连接中断，正在重连…',
      no_data: '无法获取数据，正在重试…', demo: '演示 ×', per_kwh: '/kWh',
      power: '功率', energy: '本次电量', phase: (p) => `${p} 相`, offline: '离线', failsafe_off: '无断线保护',
      private: '私人桩', shared: '公共桩', online_count: (on, all) => `${on}/${all} 在线`,
      devices_offline: (n) => `⚠ ${n} 台设备离线`, gateway_error: '网关暂时无法提供数据：',
      meter_offline: '⚠ 配变电表无响应，按最坏情况限制充电',
      alarm: {
        'suspect': '电表读数不可信',
        'running-on-forecast': '按预测负荷限制充电',
        'running-on-assumed-load': '按假定负荷限制充电',
        'failsafe': '失效保护：全部暂停充电',
        'limits-cannot-hold': '容量限值无法保持',
        'failing': '数据无法保存',
      },
      chart_label: (n, max) => `近 24 小时负载曲线，${n} 个数据点，最高 ${max} kW`,
      tariff: { sharp: '尖峰', peak: '峰时', flat: '平时', valley: '谷时' },
      departure: '出发时间', energy_need: '需要电量 (kWh)', boost: '立即充电（接受峰时电价）',
      not_before: '暂缓充电至', household_claim: '户号', save: '保存', saving: '正在保存…', saved: '已保存',
      save_failed: '保存失败：', request_title: '充电需求',
      source: { resident: '您设定的', learned: '按您的习惯估计', default: '默认值' },
      plan_ok: (start, finish, kwh) => `计划 ${start} 开始充电，${finish} 前充入 ${kwh} kWh`,
      plan_cost: (yuan) => `，预计本次电费 ¥${yuan}`,
      plan_boost: '立即以最大功率充电', plan_none: '等待排程', plan_infeasible: '出发前无法充满：',
      kpi_title: '运营指标', kpi_this_month: '本月', kpi_last_month: '上月', kpi_last_7_days: '近 7 天',
      kpi_waiting: '正在计算指标…', kpi_unavailable: '暂无指标', kpi_valley_all: '谷时充电占比（全部桩）',
      kpi_valley_private: '谷时充电占比（私人桩）', kpi_peak: '配变最高负载', kpi_over: '超限分钟数',
      kpi_requests: '按时充满', kpi_cost: '平均电价 / 无序充电', target: '目标', met: '达标', missed: '未达标',
      at: '于', saving_yuan: '节省', no_data_yet: '暂无数据',
      statement: (month) => `下载 ${month} 月度结算单 (CSV)`,
      dr_title: '需求响应', dr_none: '暂无需求响应事件', dr_start: '开始', dr_end: '结束', dr_limit: '限值 (kW)',
      dr_add: '添加限电事件', dr_cancel: '取消', dr_active: '生效中', dr_added: '已添加', dr_cancelled: '已取消',
      dr_event: (from, to, kw) => `${from} – ${to} 限 ${kw} kW`,
      state: {
        charging: '充电中', waiting: '等待调度', scheduled: '已排程', connected: '已插枪', plugged: '已插枪',
        unplugged: '未插枪',
        available: '空闲', idle: '空闲', suspended: '暂停', finished: '已充满', complete: '已充满',
        faulted: '故障', fault: '故障', unavailable: '不可用', offline: '离线', unknown: '未知',
      },
    },
    en: {
      login_title: 'Log in', login_user: 'User name', login_password: 'Password', login_submit: 'Log in',
      logout: 'Log out', login_failed: 'Login failed: ',
      invite_title: 'Choose your user name and a password (8 characters or more)', invite_submit: 'Create account',
      invite_done: 'Account created; log in',
      site_unknown: 'Site', load_title: 'Transformer load', of_limit: 'limit', base_load: 'Households',
      charging: 'Charging', headroom: 'Headroom', limit: 'Limit', history_title: 'Load, last 24 h',
      no_history: 'No history yet', chargers_title: 'Chargers', no_chargers: 'No chargers configured',
      waiting_data: 'Waiting for data…', tariff_title: 'Current tariff period', toggle: '中文',
      updated: 'Updated', live: 'live', polling: 'polling', lost: 'Connection lost, reconnecting…',
      no_data: 'Cannot reach the gateway, retrying…', demo: 'Demo ×', per_kwh: '/kWh',
      power: 'Power', energy: 'This session', phase: (p) => `Phase ${p}`, offline: 'Offline',
      failsafe_off: 'no failsafe', private: 'Private', shared: 'Shared',
      online_count: (on, all) => `${on}/${all} online`,
      devices_offline: (n) => `⚠ ${n} device${n === 1 ? '' : 's'} offline`,
      gateway_error: 'The gateway cannot report right now: ',
      meter_offline: '⚠ Transformer meter not answering: charging is limited assuming the worst',
      alarm: {
        'suspect': 'Meter reading not believed',
        'running-on-forecast': 'Charging limited on the forecast load',
        'running-on-assumed-load': 'Charging limited on the assumed load',
        'failsafe': 'Failsafe: every pile paused',
        'limits-cannot-hold': 'A capacity limit cannot hold',
        'failing': 'Records cannot be saved',
      },
      chart_label: (n, max) => `Load over the last 24 hours, ${n} points, peak ${max} kW`,
      tariff: { sharp: 'Critical peak', peak: 'Peak', flat: 'Flat', valley: 'Valley' },
      departure: 'Departure', energy_need: 'Energy needed (kWh)', boost: 'Charge now (peak price accepted)',
      not_before: 'Do not charge until', household_claim: 'Household', save: 'Save', saving: 'Saving…',
      saved: 'Saved', save_failed: 'Not saved: ', request_title: 'Charging request',
      source: { resident: 'set by you', learned: 'estimated from your habits', default: 'default' },
      plan_ok: (start, finish, kwh) => `Planned: starts ${start}, ${kwh} kWh by ${finish}`,
      plan_cost: (yuan) => `, about ¥${yuan} for this session`,
      plan_boost: 'Charging now at full power', plan_none: 'Waiting to be planned',
      plan_infeasible: 'Cannot be full by departure: ',
      kpi_title: 'KPIs', kpi_this_month: 'This month', kpi_last_month: 'Last month', kpi_last_7_days: 'Last 7 days',
      kpi_waiting: 'Computing KPIs…', kpi_unavailable: 'No KPIs available', kpi_valley_all: 'Valley share (all piles)',
      kpi_valley_private: 'Valley share (private piles)', kpi_peak: 'Transformer peak', kpi_over: 'Minutes above limit',
      kpi_requests: 'Requests met', kpi_cost: 'Cost per kWh / uncontrolled', target: 'target', met: 'met',
      missed: 'missed', at: 'at', saving_yuan: 'saved', no_data_yet: 'no data yet',
      statement: (month) => `Download the ${month} statement (CSV)`,
      dr_title: 'Demand response', dr_none: 'No demand-response events', dr_start: 'Start', dr_end: 'End',
      dr_limit: 'Limit (kW)', dr_add: 'Add a limit event', dr_cancel: 'Cancel', dr_active: 'in force',
      dr_added: 'Added', dr_cancelled: 'Cancelled',
      dr_event: (from, to, kw) => `${from} – ${to} limit ${kw} kW`,
      state: {
        charging: 'Charging', waiting: 'Waiting', scheduled: 'Scheduled', connected: 'Plugged in',
        plugged: 'Plugged in', unplugged: 'No car',
        available: 'Available', idle: 'Idle', suspended: 'Paused', finished: 'Full', complete: 'Full',
        faulted: 'Fault', fault: 'Fault', unavailable: 'Unavailable', offline: 'Offline', unknown: 'Unknown',
      },
    },
  };

  // Colour is never the only signal: every state also has a symbol and a word. Symbols come
  // from the basic Unicode blocks, not emoji, so they render on old phones and kiosks too.
  const STATE_STYLE = {
    charging: ['ok', '⚡'], waiting: ['wait', '◔'], scheduled: ['wait', '◔'], connected: ['wait', '◉'],
    plugged: ['wait', '◉'], unplugged: ['idle', '○'], unknown: ['idle', '?'],
    available: ['idle', '○'], idle: ['idle', '○'], suspended: ['wait', '‖'], finished: ['done', '✓'],
    complete: ['done', '✓'], faulted: ['bad', '⚠'], fault: ['bad', '⚠'], unavailable: ['bad', '⊘'],
    offline: ['bad', '✕'],
  };

  const $ = (id) => document.getElementById(id);
  let lang = pickLanguage();
  let lastStatus = null;
  let lastUpdate = null;
  let lastSource = 'live';
  let gatewayError = null;
  let socket = null;
  let socketOpen = false;
  let reconnectDelay = RECONNECT_MIN_MS;
  let pollTimer = null;
  // Charger ids whose request form the resident is editing: their cards are left alone by
  // status pushes so typing is not wiped out every second.
  const editing = new Set();
  const saveNotes = new Map();  // charger id -> [kind, text] shown under its form
  let kpiPeriod = 'this_month';
  let kpiData = null;
  let kpiState = 'waiting';  // waiting | ok | unavailable
  let kpiKey = '';
  const KPI_REFRESH_MS = 5 * 60 * 1000;

  function pickLanguage() {
    const fromUrl = new URLSearchParams(location.search).get('lang');
    if (fromUrl === 'zh' || fromUrl === 'en') return fromUrl;
    try {
      const stored = localStorage.getItem(LANG_KEY);
      if (stored === 'zh' || stored === 'en') return stored;
    } catch (e) { /* storage may be disabled in private browsing */ }
    return 'zh';
  }

  function t(key) { return TEXT[lang][key] ?? TEXT.zh[key] ?? key; }

  function num(value, digits) {
    return typeof value === 'number' && Number.isFinite(value) ? value.toFixed(digits) : '—';
  }

  // Site times arrive as ISO strings in the site's own zone ("2026-01-05T20:15:00+08:00"); the
  // page shows them as written, not converted to the phone's zone.
  function siteClock(iso) {
    const m = typeof iso === 'string' && iso.match(/^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})/);
    return m ? { date: `${m[1]}-${m[2]}-${m[3]}`, time: `${m[4]}:${m[5]}` } : null;
  }

  function applyLanguage() {
    document.documentElement.lang = lang === 'zh' ? 'zh-CN' : 'en';
    for (const el of document.querySelectorAll('[data-i18n]')) el.textContent = t(el.dataset.i18n);
    for (const el of document.querySelectorAll('[data-i18n-title]')) el.title = t(el.dataset.i18nTitle);
    $('lang-toggle').textContent = t('toggle');
    render(lastStatus);
    renderFooter();
    updateBanner();
  }

  function setText(id, text) { $(id).textContent = text; }

  function render(status) {
    if (!status || typeof status !== 'object') return;
    const site = status.site || {};
    const clock = siteClock(status.time);
    if (site.name) { setText('site-name', site.name); document.title = `${site.name} · Orderly`; }
    setText('site-time', clock ? `${clock.date} ${clock.time}` : '--:--');

    const tariff = $('tariff');
    const period = site.tariff_period;
    tariff.textContent = (period && t('tariff')[period]) || period || '—';
    tariff.className = `tariff tariff-${period || 'none'}`;
    setText('price', typeof site.price_per_kwh === 'number' ? `¥${site.price_per_kwh.toFixed(2)}${t('per_kwh')}` : '');
    const demo = $('demo');
    demo.hidden = !(typeof site.demo_speed === 'number' && site.demo_speed > 1);
    demo.textContent = `${t('demo')}${site.demo_speed}`;

    const offline = $('offline-count');
    offline.hidden = !(status.devices_offline > 0);
    offline.textContent = t('devices_offline')(status.devices_offline);

    $('meter-offline').hidden = site.meter_online !== false;
    renderAlarms(Array.isArray(status.alarms) ? status.alarms : []);

    renderLoad(site);
    renderHistory(Array.isArray(status.history) ? status.history : []);
    renderChargers(Array.isArray(status.chargers) ? status.chargers : []);
    renderKpis();
    loadKpis(false);
    renderDrEvents(Array.isArray(status.dr_events) ? status.dr_events : []);
  }

  function renderLoad(site) {
    const limit = site.transformer_limit_kw;
    const load = site.load_kw;
    const charging = typeof site.charging_kw === 'number' ? site.charging_kw : 0;
    const base = typeof site.base_load_kw === 'number' ? site.base_load_kw : (typeof load === 'number' ? load - charging : null);
    setText('load-kw', num(load, 1));
    setText('limit-kw', num(limit, 0));
    setText('base-kw', num(base, 1));
    setText('charging-kw', num(site.charging_kw, 1));
    const haveRatio = typeof load === 'number' && typeof limit === 'number' && limit > 0;
    const pct = haveRatio ? (100 * load) / limit : null;
    setText('load-pct', pct === null ? '—' : `${pct.toFixed(0)}%`);
    setText('headroom-kw', haveRatio ? num(limit - load, 1) : '—');
    const bar = $('load-bar');
    bar.setAttribute('aria-valuenow', pct === null ? '0' : pct.toFixed(0));
    bar.classList.toggle('warn', pct !== null && pct >= 80 && pct < 95);
    bar.classList.toggle('over', pct !== null && pct >= 95);
    // The bar spans 0..120 % of the limit so an overload is visible past the limit mark.
    const scale = haveRatio ? limit * 1.2 : 1;
    const width = (kw) => `${Math.max(0, Math.min(100, (100 * (kw || 0)) / scale))}%`;
    $('bar-base').style.width = haveRatio ? width(base) : '0%';
    $('bar-charging').style.width = haveRatio ? width(charging) : '0%';
  }

  function renderHistory(points) {
    const canvas = $('history-chart');
    const valid = points.filter((p) => p && typeof p.load_kw === 'number');
    $('history-empty').hidden = valid.length >= 2;
    canvas.hidden = valid.length < 2;
    if (valid.length < 2) return;
    const max = valid.reduce((m, p) => Math.max(m, p.load_kw, p.limit_kw || 0), 0);
    canvas.setAttribute('aria-label', t('chart_label')(valid.length, max.toFixed(0)));
    drawChart(canvas, valid);
  }

  function drawChart(canvas, points) {
    const ratio = window.devicePixelRatio || 1;
    const cssWidth = canvas.clientWidth || 320;
    const cssHeight = canvas.clientHeight || 180;
    canvas.width = Math.round(cssWidth * ratio);
    canvas.height = Math.round(cssHeight * ratio);
    const g = canvas.getContext('2d');
    g.setTransform(ratio, 0, 0, ratio, 0, 0);
    g.clearRect(0, 0, cssWidth, cssHeight);

    const css = getComputedStyle(document.documentElement);
    const colour = (name) => css.getPropertyValue(name).trim();
    const pad = { left: 40, right: 8, top: 8, bottom: 22 };
    const w = cssWidth - pad.left - pad.right;
    const h = cssHeight - pad.top - pad.bottom;
    const top = niceCeiling(points.reduce((m, p) => Math.max(m, p.load_kw, p.limit_kw || 0), 1) * 1.05);
    const x = (i) => pad.left + (w * i) / (points.length - 1);
    const y = (kw) => pad.top + h - (h * Math.max(0, kw)) / top;

    g.font = '11px system-ui, sans-serif';
    g.fillStyle = colour('--muted');
    g.strokeStyle = colour('--grid');
    g.lineWidth = 1;
    g.textAlign = 'right';
    g.textBaseline = 'middle';
    for (let i = 0; i <= 4; ++i) {
      const kw = (top * i) / 4;
      const yy = Math.round(y(kw)) + 0.5;
      g.beginPath(); g.moveTo(pad.left, yy); g.lineTo(pad.left + w, yy); g.stroke();
      g.fillText(kw.toFixed(0), pad.left - 4, yy);
    }
    g.textAlign = 'center';
    g.textBaseline = 'top';
    const labels = Math.min(6, points.length);
    for (let i = 0; i < labels; ++i) {
      const index = Math.round(((points.length - 1) * i) / (labels - 1));
      const clock = siteClock(points[index].time);
      if (clock) g.fillText(clock.time, Math.min(Math.max(x(index), pad.left + 14), pad.left + w - 14), pad.top + h + 5);
    }

    const area = (upper, lower, fill) => {
      g.beginPath();
      points.forEach((p, i) => (i ? g.lineTo(x(i), y(upper(p))) : g.moveTo(x(i), y(upper(p)))));
      for (let i = points.length - 1; i >= 0; --i) g.lineTo(x(i), y(lower(points[i])));
      g.closePath();
      g.fillStyle = fill;
      g.fill();
    };
    const chargingOf = (p) => (typeof p.charging_kw === 'number' ? p.charging_kw : 0);
    area((p) => p.load_kw - chargingOf(p), () => 0, colour('--base'));
    area((p) => p.load_kw, (p) => p.load_kw - chargingOf(p), colour('--charging'));

    const withLimit = points.map((p, i) => [i, p.limit_kw]).filter(([, v]) => typeof v === 'number');
    if (withLimit.length) {
      g.beginPath();
      g.setLineDash([6, 4]);
      g.strokeStyle = colour('--limit');
      g.lineWidth = 2;
      withLimit.forEach(([i, v], n) => (n ? g.lineTo(x(i), y(v)) : g.moveTo(x(i), y(v))));
      g.stroke();
      g.setLineDash([]);
    }
  }

  function niceCeiling(value) {
    const step = Math.pow(10, Math.floor(Math.log10(value)));
    for (const m of [1, 2, 2.5, 5, 10]) if (m * step >= value) return m * step;
    return 10 * step;
  }

  function renderChargers(chargers) {
    const list = $('chargers');
    $('chargers-empty').hidden = chargers.length > 0;
    const online = chargers.filter((c) => c && c.online !== false).length;
    setText('chargers-summary', chargers.length ? t('online_count')(online, chargers.length) : '');
    // Cards are replaced in place; a card whose form is being edited is kept as it is (moving
    // it in the DOM would take the focus away from the field being typed in).
    const old = new Map([...list.children].map((li) => [li.dataset.charger, li]));
    for (const id of [...editing]) {
      const c = chargers.find((x) => x && x.id === id);
      if (!c || !c.session || !old.has(id)) editing.delete(id);
    }
    const next = chargers.map((c) => (editing.has(c.id) ? old.get(c.id) : chargerCard(c)));
    const keep = new Set(next);
    for (const child of [...list.children]) if (!keep.has(child)) child.remove();
    next.forEach((node, i) => {
      if (list.children[i] !== node) list.insertBefore(node, list.children[i] || null);
    });
  }

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function chargerCard(c) {
    const state = c.online === false && !c.state ? 'offline' : (c.state || 'unknown');
    const [tone, symbol] = STATE_STYLE[state] || ['idle', '?'];
    const li = el('li', `charger tone-${tone}${c.online === false ? ' is-offline' : ''}`);
    li.dataset.charger = c.id ?? '';

    const head = el('div', 'charger-head');
    head.append(el('span', 'charger-name', c.name || c.id || '—'));
    if (c.online === false) head.append(el('span', 'badge badge-offline', t('offline')));
    li.append(head);

    const stateLine = el('div', `state state-${tone}`);
    stateLine.append(el('span', 'state-symbol', symbol));
    stateLine.append(el('span', 'state-text', t('state')[state] || state));
    li.append(stateLine);

    const facts = el('dl', 'facts');
    const fact = (label, value) => {
      const row = el('div');
      row.append(el('dt', '', label), el('dd', '', value));
      facts.append(row);
    };
    fact(t('power'), `${num(c.power_kw, 1)} / ${num(c.limit_kw, 1)} kW`);
    fact(t('energy'), `${num(c.session_energy_kwh, 1)} kWh`);
    li.append(facts);
    if (typeof c.error === 'string' && c.error) li.append(el('p', 'charger-error', c.error));

    const tags = el('div', 'tags');
    tags.append(el('span', 'tag', c.id || ''));
    if (c.kind) tags.append(el('span', 'tag', t(c.kind) || c.kind));
    if (c.phase) tags.append(el('span', 'tag', t('phase')(c.phase)));
    if (typeof c.max_kw === 'number') tags.append(el('span', 'tag', `≤${num(c.max_kw, 0)} kW`));
    if (c.failsafe === false) tags.append(el('span', 'tag tag-warn', t('failsafe_off')));
    li.append(tags);
    if (c.session && typeof c.session === 'object') li.append(sessionPart(c));
    return li;
  }

  // "HH:MM" of a site time, for the form and the plan line.
  function clockOf(iso) { const k = siteClock(iso); return k ? k.time : ''; }

  function planLine(session) {
    const plan = session.plan && typeof session.plan === 'object' ? session.plan : null;
    if (plan && plan.feasible === false) {
      return ['plan-bad', t('plan_infeasible') + (plan.note || '')];
    }
    if (session.boost) return ['plan-ok', t('plan_boost')];
    if (plan && plan.start && plan.finish) {
      const kwh = num(typeof plan.expected_kwh === 'number' ? plan.expected_kwh : session.requested_kwh, 1);
      const cost = typeof plan.total_cost_yuan === 'number' ? t('plan_cost')(plan.total_cost_yuan.toFixed(2)) : '';
      return ['plan-ok', t('plan_ok')(clockOf(plan.start), clockOf(plan.finish), kwh) + cost];
    }
    return ['plan-wait', t('plan_none')];
  }

  // The resident's part of a card with a car plugged in: what the plan promises, and the
  // request form (departure, energy, charge now, do not charge until).
  function sessionPart(c) {
    const session = c.session;
    const box = el('div', 'session');
    const [planClass, planText] = planLine(session);
    box.append(el('p', `plan ${planClass}`, planText));

    const form = el('form', 'request');
    form.dataset.charger = c.id;
    const field = (label, input) => {
      const row = el('label', 'field');
      row.append(el('span', 'field-label', label), input);
      form.append(row);
      return input;
    };
    const input = (type, name, value, extra) => {
      const node = document.createElement('input');
      node.type = type;
      node.name = name;
      if (type === 'checkbox') node.defaultChecked = Boolean(value);
      else node.defaultValue = value ?? '';
      Object.assign(node, extra || {});
      return node;
    };
    form.append(el('span', 'request-title', t('request_title')));
    if (session.request_source && session.request_source !== 'resident') {
      form.append(el('span', 'tag request-source', (t('source') || {})[session.request_source] || session.request_source));
    }
    field(t('departure'), input('time', 'departure', clockOf(session.departure), { required: true }));
    field(t('energy_need'), input('number', 'energy_kwh',
      typeof session.requested_kwh === 'number' ? String(Math.round(session.requested_kwh)) : '',
      { min: '1', max: '200', step: '1', inputMode: 'numeric' }));
    field(t('not_before'), input('time', 'not_before', clockOf(session.not_before)));
    if (c.kind === 'shared') field(t('household_claim'), input('text', 'household', session.household || ''));
    const boost = el('label', 'field field-check');
    boost.append(input('checkbox', 'boost', session.boost), el('span', 'field-label', t('boost')));
    form.append(boost);
    const save = el('button', 'save', t('save'));
    save.type = 'submit';
    form.append(save);
    const noteKey = `${c.id}|${session.id || ''}`;
    const note = saveNotes.get(noteKey);
    const status = el('p', `save-note${note ? ` save-${note[0]}` : ''}`, note ? note[1] : '');
    status.setAttribute('role', 'status');
    form.append(status);

    form.addEventListener('input', () => editing.add(c.id));
    form.addEventListener('focusin', () => editing.add(c.id));
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      saveRequest(c, noteKey, form, status, save);
    });
    box.append(form);
    return box;
  }

  async function saveRequest(c, noteKey, form, status, button) {
    const data = new FormData(form);
    const energy = Number(data.get('energy_kwh'));
    const body = {
      departure: data.get('departure') || null,
      energy_kwh: data.get('energy_kwh') === '' ? undefined : energy,
      boost: form.elements.boost.checked,
      not_before: data.get('not_before') || null,
    };
    if (c.kind === 'shared') body.household = data.get('household') || '';
    if (body.departure === null) delete body.departure;
    button.disabled = true;
    status.className = 'save-note';
    status.textContent = t('saving');
    let note;
    try {
      const response = await fetch(`/api/v1/chargers/${encodeURIComponent(c.id)}/request`, {
        method: 'PUT', headers: writeHeaders(), body: JSON.stringify(body),
      });
      const answer = await response.json().catch(() => ({}));
      note = response.ok ? ['ok', t('saved')] : ['bad', t('save_failed') + (answer.error || response.status)];
    } catch (e) {
      note = ['bad', t('save_failed') + t('no_data')];
    }
    button.disabled = false;
    saveNotes.set(noteKey, note);
    status.className = `save-note save-${note[0]}`;
    status.textContent = note[1];
    // Saved: the next status push shows the new plan. Refused: keep the form for correction.
    if (note[0] === 'ok') editing.delete(c.id);
  }

  // ---- operator: demand-response events ------------------------------------------------------

  // The gateway's message is in English with the figures; the state leads it in the page's language.
  function renderAlarms(alarms) {
    const list = $('alarms');
    list.hidden = alarms.length === 0;
    list.replaceChildren(...alarms.map((a) => {
      const li = el('li', `alarm alarm-${a.level === 'error' ? 'error' : 'warn'}`);
      li.dataset.alarm = a.id ?? '';
      li.append(el('strong', '', `⚠ ${t('alarm')[a.state] || a.state} (${a.id}) `), el('span', '', a.message ?? ''));
      return li;
    }));
  }

  function renderDrEvents(events) {
    $('dr-empty').hidden = events.length > 0;
    $('dr-events').replaceChildren(...events.map((e) => {
      const li = el('li', `dr-event${e.active ? ' dr-active' : ''}`);
      li.dataset.event = e.id ?? '';
      const from = siteClock(e.start);
      const to = siteClock(e.end);
      const when = (k) => (k ? `${k.date.slice(5)} ${k.time}` : '—');
      li.append(el('span', 'dr-text', t('dr_event')(when(from), when(to), num(e.limit_kw, 0))));
      if (e.active) li.append(el('span', 'tag tag-warn', t('dr_active')));
      const cancel = el('button', 'dr-cancel', t('dr_cancel'));
      cancel.type = 'button';
      cancel.addEventListener('click', () => sendDr('DELETE', `/api/v1/dr-events/${encodeURIComponent(e.id)}`, null,
        t('dr_cancelled')));
      li.append(cancel);
      return li;
    }));
  }

  // Added or cancelled events show in the next status push; the note says how the call went.
  async function sendDr(method, path, body, done) {
    const note = $('dr-note');
    note.className = 'save-note';
    note.textContent = t('saving');
    try {
      const response = await fetch(path, {
        method, headers: writeHeaders(), body: body ? JSON.stringify(body) : undefined,
      });
      const answer = await response.json().catch(() => ({}));
      note.className = `save-note save-${response.ok ? 'ok' : 'bad'}`;
      note.textContent = response.ok ? done : t('save_failed') + (answer.error || response.status);
      return response.ok;
    } catch (e) {
      note.className = 'save-note save-bad';
      note.textContent = t('save_failed') + t('no_data');
      return false;
    }
  }

  $('dr-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    const form = event.target;
    // datetime-local gives the wall time without an offset: the gateway reads it in the site's.
    const ok = await sendDr('POST', '/api/v1/dr-events', {
      start: form.elements.start.value, end: form.elements.end.value, limit_kw: Number(form.elements.limit_kw.value),
    }, t('dr_added'));
    if (ok) form.reset();
  });

  // ---- operator: KPIs over a period and the month's statement --------------------------------

  function pad2(n) { return String(n).padStart(2, '0'); }

  // The period's query and statement month from the site's own date (not the phone's).
  function kpiQuery(period, iso) {
    const k = siteClock(iso);
    if (!k) return null;
    const [y, m, d] = k.date.split('-').map(Number);
    const month = (yy, mm) => `${yy}-${pad2(mm)}`;
    const prev = m === 1 ? [y - 1, 12] : [y, m - 1];
    if (period === 'last_month') {
      return { query: `from=${month(...prev)}-01&to=${month(y, m)}-01`, month: month(...prev) };
    }
    if (period === 'last_7_days') {
      const start = new Date(Date.UTC(y, m - 1, d - 7));
      const from = `${start.getUTCFullYear()}-${pad2(start.getUTCMonth() + 1)}-${pad2(start.getUTCDate())}`;
      return { query: `from=${from}`, month: month(y, m) };
    }
    return { query: `from=${month(y, m)}-01`, month: month(y, m) };
  }

  async function loadKpis(force) {
    const q = lastStatus && kpiQuery(kpiPeriod, lastStatus.time);
    if (!q) return;
    const key = `${kpiPeriod}|${q.query}`;
    if (!force && key === kpiKey) return;
    kpiKey = key;
    try {
      const response = await fetch(`/api/v1/kpi?${q.query}`, { cache: 'no-store' });
      const data = await response.json();
      if (key !== kpiKey) return;  // the period changed while this was on its way
      kpiData = response.ok ? data : null;
      kpiState = response.ok ? 'ok' : 'unavailable';
    } catch (e) {
      kpiState = 'unavailable';
    }
    renderKpis();
  }

  function pct(share) { return typeof share === 'number' ? `${(100 * share).toFixed(1)}%` : '—'; }

  function renderKpis() {
    const q = lastStatus && kpiQuery(kpiPeriod, lastStatus.time);
    const link = $('statement-link');
    link.hidden = !q;
    if (q) {
      link.href = `/api/v1/statements/${q.month}.csv`;
      link.textContent = t('statement')(q.month);
    }
    const empty = $('kpi-empty');
    const list = $('kpis');
    const ok = kpiState === 'ok' && kpiData;
    empty.hidden = Boolean(ok);
    list.hidden = !ok;
    empty.textContent = kpiState === 'waiting' ? t('kpi_waiting') : t('kpi_unavailable');
    if (!ok) return;
    const v = kpiData.valley_share || {};
    const tr = kpiData.transformer || {};
    const rq = kpiData.requests || {};
    const cost = kpiData.cost || {};
    const figure = (id, text, verdict) => {
      const dd = $(id).querySelector('dd');
      dd.textContent = text;
      dd.className = verdict === undefined ? '' : verdict ? 'kpi-met' : 'kpi-missed';
    };
    const share = (value, target) => {
      if (typeof value !== 'number') return [t('no_data_yet'), undefined];
      const met = typeof target === 'number' ? value >= target : undefined;
      const verdict = met === undefined ? '' : ` ${met ? '✓' : '✗'} ${met ? t('met') : t('missed')}`;
      return [`${pct(value)} (${t('target')} ${pct(target).replace('.0%', '%')})${verdict}`, met];
    };
    figure('kpi-valley-all', ...share(v.all, v.target_all));
    figure('kpi-valley-private', ...share(v.private, v.target_private));
    const peakAt = siteClock(tr.peak_at);
    figure('kpi-peak', typeof tr.peak_kw === 'number'
      ? `${num(tr.peak_kw, 1)} kW / ${num(tr.limit_kw, 0)} kW${peakAt ? ` (${t('at')} ${peakAt.date.slice(5)} ${peakAt.time})` : ''}`
      : t('no_data_yet'));
    const over = typeof tr.minutes_above_limit === 'number' ? tr.minutes_above_limit : null;
    figure('kpi-over', over === null ? '—' : `${over}${tr.aggregate_slots_above_limit ? ` (+${tr.aggregate_slots_above_limit}×15 min)` : ''}`,
      over === null ? undefined : over === 0 && !tr.aggregate_slots_above_limit);
    figure('kpi-requests', typeof rq.share_met === 'number'
      ? `${rq.met}/${rq.with_request} (${pct(rq.share_met)})` : t('no_data_yet'));
    figure('kpi-cost', typeof cost.per_kwh === 'number'
      ? `¥${cost.per_kwh.toFixed(2)} / ¥${num(cost.uncontrolled_per_kwh, 2)}${t('per_kwh')} · ${t('saving_yuan')} ¥${num(cost.saving_yuan, 2)}`
      : t('no_data_yet'));
  }

  function accept(status, source) {
    // The server answers {"error": ...} when the gateway could not build the status; keep the
    // last good figures on screen and say so instead of blanking the page.
    if (status && typeof status.error === 'string' && !status.site) {
      gatewayError = status.error;
      updateBanner();
      return;
    }
    gatewayError = null;
    lastStatus = status;
    lastUpdate = new Date();
    lastSource = source;
    delete $('updated').dataset.i18n;
    render(status);
    renderFooter();
    updateBanner();
  }

  function renderFooter() {
    if (!lastUpdate) return;
    // The browser's own clock: when the page last heard from the gateway, not the site time.
    setText('updated', `${t('updated')} ${lastUpdate.toLocaleTimeString(lang === 'zh' ? 'zh-CN' : 'en-GB')}`);
    setText('source', `· ${t(lastSource)}`);
  }

  function updateBanner() {
    const banner = $('banner');
    if (gatewayError) {
      banner.hidden = false;
      banner.textContent = t('gateway_error') + gatewayError;
      return;
    }
    if (socketOpen) { banner.hidden = true; return; }
    if (socket === null && lastStatus === null) { banner.hidden = true; return; }  // first load
    banner.hidden = false;
    banner.textContent = lastStatus ? t('lost') : t('no_data');
  }

  async function poll() {
    try {
      const response = await fetch('/api/v1/status', { cache: 'no-store' });
      if (response.status === 401) return showLogin();
      if (response.ok) accept(await response.json(), socketOpen ? 'live' : 'polling');
    } catch (e) { /* gateway unreachable: the banner already says so; keep trying */ }
  }

  function startPolling() {
    if (pollTimer === null) pollTimer = setInterval(poll, POLL_MS);
  }

  function stopPolling() {
    if (pollTimer !== null) { clearInterval(pollTimer); pollTimer = null; }
  }

  function connect() {
    const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
    socket = new WebSocket(`${scheme}//${location.host}/api/v1/live`);
    socket.onopen = () => {
      socketOpen = true;
      reconnectDelay = RECONNECT_MIN_MS;
      stopPolling();
      updateBanner();
    };
    socket.onmessage = (event) => {
      try { accept(JSON.parse(event.data), 'live'); } catch (e) { /* a malformed push is skipped */ }
    };
    socket.onclose = () => {
      socketOpen = false;
      updateBanner();
      startPolling();
      setTimeout(connect, reconnectDelay);
      reconnectDelay = Math.min(RECONNECT_MAX_MS, reconnectDelay * 2);
    };
  }

  $('lang-toggle').addEventListener('click', () => {
    lang = lang === 'zh' ? 'en' : 'zh';
    try { localStorage.setItem(LANG_KEY, lang); } catch (e) { /* not remembered, still switched */ }
    applyLanguage();
  });
  $('kpi-period').addEventListener('change', (event) => {
    kpiPeriod = event.target.value;
    kpiState = 'waiting';
    renderKpis();
    loadKpis(true);
  });
  setInterval(() => loadKpis(true), KPI_REFRESH_MS);
  let resizeTimer = null;
  window.addEventListener('resize', () => {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(() => render(lastStatus), 150);
  });

  // ---- login: a session cookie the page cannot read, and the CSRF token it must send ----------

  let csrfToken = '';
  let started = false;

  // Every write carries the session's CSRF token; the gateway refuses writes without it.
  function writeHeaders() { return { 'Content-Type': 'application/json', 'X-CSRF-Token': csrfToken }; }

  async function postJson(path, body) {
    const response = await fetch(path, { method: 'POST', headers: writeHeaders(), body: JSON.stringify(body) });
    return { response, answer: await response.json().catch(() => ({})) };
  }

  function showLogin() {
    stopPolling();
    $('app-main').hidden = true;
    $('logout').hidden = true;
    $('login').hidden = false;
  }

  function loggedIn(answer) {
    csrfToken = answer.csrf_token || '';
    $('login').hidden = true;
    $('app-main').hidden = false;
    $('logout').hidden = false;
    if (started) { poll(); return; }
    started = true;
    poll();
    connect();
  }

  // A #login= link (the demo prints them) logs in once; #invite= shows the invite form; otherwise
  // an existing session is picked up, or the login form shown.
  async function signIn() {
    const hash = new URLSearchParams(location.hash.slice(1));
    history.replaceState(null, '', location.pathname + location.search);
    if (hash.has('invite')) {
      $('login').hidden = false;
      $('invite-form').hidden = false;
      $('invite-form').dataset.invite = hash.get('invite');
      return;
    }
    try {
      const { response, answer } = hash.has('login')
        ? await postJson('/api/v1/login', { link: hash.get('login') })
        : await fetch('/api/v1/me', { cache: 'no-store' }).then(async (r) => ({ response: r, answer: await r.json().catch(() => ({})) }));
      if (response.ok) return loggedIn(answer);
    } catch (e) { /* unreachable: the login form is the way back in */ }
    showLogin();
  }

  $('login-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    const form = event.target;
    const note = $('login-note');
    note.textContent = '';
    const { response, answer } = await postJson('/api/v1/login',
      { user: form.elements.user.value, password: form.elements.password.value });
    form.elements.password.value = '';
    if (response.ok) return loggedIn(answer);
    note.className = 'save-note save-bad';
    note.textContent = t('login_failed') + (answer.error || response.status);
  });
  $('invite-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    const form = event.target;
    const { response, answer } = await postJson('/api/v1/invites/redeem',
      { invite: form.dataset.invite, user: form.elements.user.value, password: form.elements.password.value });
    const note = $('login-note');
    note.className = `save-note save-${response.ok ? 'ok' : 'bad'}`;
    note.textContent = response.ok ? t('invite_done') : t('login_failed') + (answer.error || response.status);
    if (response.ok) {
      form.hidden = true;
      $('login-form').elements.user.value = answer.user;
    }
  });
  $('logout').addEventListener('click', async () => {
    await postJson('/api/v1/logout', {}).catch(() => null);
    csrfToken = '';
    if (socket) { socket.onclose = null; socket.close(); socket = null; }
    started = false;
    showLogin();
  });

  applyLanguage();
  signIn();
})();
