// Orderly live status page. Plain JavaScript, no framework and nothing fetched from the
// internet: the gateway often has no uplink. Data: GET /api/v1/status once, then pushes on the
// WebSocket /api/v1/live; while the socket is down the page polls the status instead.
'use strict';

import { TimeChart, wallSeconds } from './chart.js';

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
      outlook_title: '配变负载：过去 24 小时与未来 24 小时', forecast: '预测居民用电', planned: '计划总负载',
      phase_load: '分相负载',
      platform_title: '市级平台同步', platform_off: '未启用', platform_queued: '待发送消息',
      platform_oldest: '最早待发', platform_error: '最近错误', platform_delivered: '最近送达',
      platform_none: '无', seconds_ago: (n) => `${n} 秒前`,
      sessions_title: '当前充电会话', sessions_none: '暂无插枪车辆', col_pile: '充电桩', col_household: '户号',
      col_plugged: '插枪', col_departure: '出发', col_energy: '已充 / 需求 kWh', col_finish: '计划充好',
      invite_heading: '邀请住户', invite_create: '生成邀请链接', invite_made: (until) => `一次性链接，${until} 前有效：`,
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
      chart_label: (n, max, slots) => `近 24 小时负载曲线，${n} 个数据点，最高 ${max} kW${slots ? `；未来 ${slots} 个计划时段` : ''}`,
      tariff: { sharp: '尖峰', peak: '峰时', flat: '平时', valley: '谷时' },
      departure: '出发时间', energy_need: '需要电量 (kWh)', boost: '立即充电（接受峰时电价）',
      not_before: '暂缓充电至', household_claim: '户号', save: '保存', saving: '正在保存…', saved: '已保存',
      save_failed: '保存失败：', request_title: '充电需求',
      source: { resident: '您设定的', learned: '按您的习惯估计', default: '默认值' },
      plan_ok: (start, finish, kwh) => `计划 ${start} 开始充电，${finish} 前充入 ${kwh} kWh`,
      plan_cost: (yuan) => `，预计本次电费 ¥${yuan}`,
      plan_boost: '立即以最大功率充电', plan_none: '等待排程', plan_infeasible: '出发前无法充满：',
      plan_summary: (finish, cost) => `预计 ${finish} 充好，本次电费约 ¥${cost}`,
      plan_saving: (yuan) => `，比立即充电省 ¥${yuan}`,
      plan_chart: '充电计划 (kW)', plan_chart_label: (n) => `充电计划，${n} 个时段`,
      charge_now: (price, cost, finish) => `立即充电：当前 ¥${price}/kWh，约 ¥${cost}${finish ? `，${finish} 前充好` : ''}`,
      charge_now_off: '取消立即充电，按计划充', mode: '方式', mode_energy: '出发时充入指定电量', mode_full: '出发前充满',
      my_history: '我的充电记录', my_history_empty: '本月暂无充电记录', month_total: (n, kwh, yuan) => `本月 ${n} 次，${kwh} kWh，¥${yuan}`,
      history_row: (date, pile, kwh, yuan) => `${date} ${pile} · ${kwh} kWh · ¥${yuan}`,
      qr_title: (pile) => `公共桩 ${pile}`, qr_plug_first: '请先插好充电枪，再刷新本页', qr_taken: '此桩正在为其他住户充电',
      qr_start: '开始充电', qr_started: '已开始：这辆车的充电记在您的户号下', retry: '刷新',
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
      outlook_title: 'Transformer: last 24 h and next 24 h', forecast: 'Forecast households', planned: 'Planned total',
      phase_load: 'per phase',
      platform_title: 'City platform sync', platform_off: 'not enabled', platform_queued: 'Messages queued',
      platform_oldest: 'Oldest queued', platform_error: 'Last error', platform_delivered: 'Last delivered',
      platform_none: 'none', seconds_ago: (n) => `${n} s ago`,
      sessions_title: 'Cars plugged in', sessions_none: 'No car plugged in', col_pile: 'Pile', col_household: 'Household',
      col_plugged: 'Plugged in', col_departure: 'Departure', col_energy: 'Delivered / wanted kWh', col_finish: 'Planned ready',
      invite_heading: 'Invite a resident', invite_create: 'Make an invite link',
      invite_made: (until) => `One-time link, valid until ${until}: `,
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
      chart_label: (n, max, slots) => `Load over the last 24 hours, ${n} points, peak ${max} kW${slots ? `; ${slots} planned slots ahead` : ''}`,
      tariff: { sharp: 'Critical peak', peak: 'Peak', flat: 'Flat', valley: 'Valley' },
      departure: 'Departure', energy_need: 'Energy needed (kWh)', boost: 'Charge now (peak price accepted)',
      not_before: 'Do not charge until', household_claim: 'Household', save: 'Save', saving: 'Saving…',
      saved: 'Saved', save_failed: 'Not saved: ', request_title: 'Charging request',
      source: { resident: 'set by you', learned: 'estimated from your habits', default: 'default' },
      plan_ok: (start, finish, kwh) => `Planned: starts ${start}, ${kwh} kWh by ${finish}`,
      plan_cost: (yuan) => `, about ¥${yuan} for this session`,
      plan_boost: 'Charging now at full power', plan_none: 'Waiting to be planned',
      plan_infeasible: 'Cannot be full by departure: ',
      plan_summary: (finish, cost) => `Ready by ${finish}, about ¥${cost} for this session`,
      plan_saving: (yuan) => `, ¥${yuan} less than charging now`,
      plan_chart: 'Charging plan (kW)', plan_chart_label: (n) => `Charging plan, ${n} slots`,
      charge_now: (price, cost, finish) => `Charge now: ¥${price}/kWh now, about ¥${cost}${finish ? `, ready by ${finish}` : ''}`,
      charge_now_off: 'Stop charging now, follow the plan', mode: 'Mode', mode_energy: 'This much energy by departure',
      mode_full: 'Full by departure',
      my_history: 'My charging', my_history_empty: 'No charging this month yet',
      month_total: (n, kwh, yuan) => `This month: ${n} sessions, ${kwh} kWh, ¥${yuan}`,
      history_row: (date, pile, kwh, yuan) => `${date} ${pile} · ${kwh} kWh · ¥${yuan}`,
      qr_title: (pile) => `Shared pile ${pile}`, qr_plug_first: 'Plug the car in first, then reload this page',
      qr_taken: 'This pile is charging another household\'s car', qr_start: 'Start charging',
      qr_started: 'Started: this car\'s charging is billed to your household', retry: 'Reload',
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
    renderHistory(Array.isArray(status.history) ? status.history : [], status.transformer_outlook);
    renderPlatform(status.platform);
    if (me.role !== 'resident') renderSessions(Array.isArray(status.chargers) ? status.chargers : []);
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

  let historyChart = null;

  const PHASES = ['A', 'B', 'C'];

  // The transformer: measured households and charging stacked over the last 24 h (the total
  // filled in the charging colour, households over its lower part), the limit dashed; for the
  // operator also the next 24 h of the plan in force (forecast households dashed, planned total
  // stepped, the limit on) and each phase's measured load where the meter gives it.
  function renderHistory(points, ahead) {
    const box = $('history-chart');
    const valid = points.filter((p) => p && typeof p.load_kw === 'number' && wallSeconds(p.time) !== null);
    const future = ahead && typeof ahead === 'object' && Array.isArray(ahead.planned_kw) ? ahead : null;
    $('history-empty').hidden = valid.length >= 2;
    box.hidden = valid.length < 2;
    setText('history-title', t(future ? 'outlook_title' : 'history_title'));
    if (valid.length < 2) return;
    const max = valid.reduce((m, p) => Math.max(m, p.load_kw, p.limit_kw || 0), 0);
    const phased = valid.some((p) => Array.isArray(p.phase_load_kw) && p.phase_load_kw.some((kw) => typeof kw === 'number'));
    document.querySelector('.phase-legend').hidden = !phased;
    const series = [{ label: t('charging'), colour: '--charging', fill: true },
                    { label: t('base_load'), colour: '--base', fill: true },
                    { label: t('limit'), colour: '--limit', dash: true }];
    if (future) {
      series.push({ label: t('forecast'), colour: '--forecast', dash: true },
                  { label: t('planned'), colour: '--planned', step: true });
    }
    if (phased) PHASES.forEach((ph) => series.push({ label: `${t('phase_load')} ${ph}`, colour: `--phase-${ph.toLowerCase()}` }));
    historyChart = historyChart || new TimeChart(box, series, box.clientWidth > 600 ? 240 : 190);
    historyChart.setSeries(series);

    const value = (v) => (typeof v === 'number' ? v : null);
    const charging = (p) => (typeof p.charging_kw === 'number' ? p.charging_kw : 0);
    const rows = valid.map((p) => ({ x: wallSeconds(p.time), total: p.load_kw, base: p.load_kw - charging(p),
                                     limit: value(p.limit_kw), phases: p.phase_load_kw || [] }));
    if (future) {
      const start = wallSeconds(future.slot_start);
      const slotS = 60 * (future.slot_minutes || 15);
      const lastPast = rows[rows.length - 1].x;
      future.planned_kw.forEach((kw, i) => {
        const x = start + i * slotS;
        if (start === null || x <= lastPast) return;
        const base = value(future.base_kw[i]);
        rows.push({ x, limit: value(future.limit_kw[i]), forecast: base,
                    planned: base === null ? null : base + (kw || 0) });
      });
    }
    const column = (f) => rows.map((r) => (r[f] === undefined ? null : r[f]));
    const data = [column('x'), column('total'), column('base'), column('limit')];
    if (future) data.push(column('forecast'), column('planned'));
    if (phased) PHASES.forEach((ph, i) => data.push(rows.map((r) => (r.phases ? value(r.phases[i]) : null))));
    historyChart.setData(data);
    box.setAttribute('aria-label', t('chart_label')(valid.length, max.toFixed(0), rows.length - valid.length));
  }

  // The operator's table of open sessions, from the status (so live), and the households an
  // invite can be made for (those the configuration gives a pile).
  function renderSessions(chargers) {
    const open = chargers.filter((c) => c && c.session && typeof c.session === 'object');
    $('sessions-empty').hidden = open.length > 0;
    $('sessions').hidden = open.length === 0;
    const when = (iso) => { const k = siteClock(iso); return k ? `${k.date.slice(5)} ${k.time}` : '—'; };
    $('sessions').tBodies[0].replaceChildren(...open.map((c) => {
      const x = c.session;
      const tr = document.createElement('tr');
      tr.dataset.charger = c.id;
      for (const text of [c.name || c.id, x.household || '—', when(x.plugged_at), when(x.departure),
                          `${num(x.delivered_kwh, 1)} / ${num(x.requested_kwh, 1)}`,
                          x.plan && x.plan.finish ? when(x.plan.finish) : '—']) {
        tr.append(el('td', '', text));
      }
      return tr;
    }));
    const select = $('invite-create').elements.household;
    const households = [...new Set(chargers.map((c) => c && c.household).filter(Boolean))].sort();
    if (select.options.length !== households.length) {
      select.replaceChildren(...households.map((h) => { const o = el('option', '', h); o.value = h; return o; }));
    }
  }

  $('invite-create').addEventListener('submit', async (event) => {
    event.preventDefault();
    const note = $('invite-link');
    const { response, answer } = await postJson('/api/v1/invites', { household: event.target.elements.household.value });
    note.className = `save-note save-${response.ok ? 'ok' : 'bad'}`;
    if (!response.ok) { note.textContent = t('save_failed') + (answer.error || response.status); return; }
    const until = siteClock(answer.expires_at);
    note.textContent = t('invite_made')(until ? `${until.date} ${until.time}` : '');
    const link = el('a', 'invite-url', location.origin + answer.link);
    link.href = answer.link;
    note.append(link);
  });

  // The city platform's outbox as the status reports it (docs/platform-api.md, "The outbox").
  function renderPlatform(platform) {
    const list = $('platform');
    if (!platform || typeof platform !== 'object') { list.replaceChildren(); return; }
    const item = (label, text, bad) => {
      const div = el('div', bad ? 'platform-bad' : '');
      div.append(el('dt', '', label), el('dd', '', text));
      return div;
    };
    if (!platform.enabled) { list.replaceChildren(item(t('platform_title'), t('platform_off'))); return; }
    const delivered = siteClock(platform.last_delivered_at);
    list.replaceChildren(
      item(t('platform_queued'), typeof platform.queued === 'number' ? String(platform.queued) : '—', platform.queued > 0),
      item(t('platform_oldest'), typeof platform.oldest_queued_age_s === 'number'
        ? t('seconds_ago')(platform.oldest_queued_age_s) : t('platform_none')),
      item(t('platform_error'), platform.last_error || t('platform_none'), Boolean(platform.last_error)),
      item(t('platform_delivered'), delivered ? `${delivered.date} ${delivered.time}` : t('platform_none')));
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
    drawPlanCharts();
  }

  // ---- resident: the plan of my car --------------------------------------------------------------

  // uPlot measures its container, so plan charts are drawn once their card is in the page.
  const planCharts = new Map();   // chart box -> TimeChart
  const pendingPlanCharts = [];   // [box, data] waiting for drawPlanCharts()

  function drawPlanCharts() {
    for (const [box, chart] of [...planCharts]) {
      if (!box.isConnected) { chart.destroy(); planCharts.delete(box); }
    }
    for (const [box, data] of pendingPlanCharts.splice(0)) {
      if (!box.isConnected) continue;
      const chart = new TimeChart(box, [{ label: t('charging'), colour: '--charging', fill: true, step: true }], 140);
      chart.setData(data);
      planCharts.set(box, chart);
    }
  }

  // The plan's timeline from the slot of now until an hour past departure (or the last planned
  // slot, whichever is later), as uPlot columns.
  function planTimeline(session) {
    const timeline = session.plan && session.plan.timeline;
    const start = timeline && wallSeconds(timeline.start);
    const slotS = 60 * (session.plan.slot_minutes || 15);
    if (start === null || !timeline || !Array.isArray(timeline.kw) || !timeline.kw.length) return null;
    let last = timeline.kw.length - 1;
    const departure = wallSeconds(session.departure);
    let lastPlanned = -1;
    timeline.kw.forEach((kw, i) => { if (kw > 0) lastPlanned = i; });
    if (departure !== null) last = Math.min(last, Math.max(lastPlanned + 1, Math.ceil((departure + 3600 - start) / slotS)));
    const xs = [];
    const kws = [];
    for (let i = 0; i <= last; ++i) { xs.push(start + i * slotS); kws.push(timeline.kw[i]); }
    xs.push(start + (last + 1) * slotS);  // the last step's end
    kws.push(null);
    return [xs, kws];
  }

  function money(value) { return typeof value === 'number' ? value.toFixed(2) : '—'; }

  // Finish, cost and saving; the chart; "charge now" with what it costs.
  function planDetails(c, box) {
    const session = c.session;
    const plan = session.plan && typeof session.plan === 'object' ? session.plan : null;
    if (!plan) return;
    if (plan.finish && typeof plan.total_cost_yuan === 'number') {
      let text = t('plan_summary')(clockOf(plan.finish), money(plan.total_cost_yuan));
      if (!session.boost && plan.saving_yuan > 0.005) text += t('plan_saving')(money(plan.saving_yuan));
      box.append(el('p', 'plan-summary', text));
    }
    const data = planTimeline(session);
    if (data) {
      const chart = el('div', 'plan-chart');
      chart.setAttribute('role', 'img');
      chart.setAttribute('aria-label', t('plan_chart_label')(data[0].length - 1));
      box.append(el('span', 'plan-chart-title', t('plan_chart')), chart);
      pendingPlanCharts.push([chart, data]);
    }
    const now = el('button', `charge-now${session.boost ? ' charge-now-on' : ''}`);
    now.type = 'button';
    const price = lastStatus && lastStatus.site ? lastStatus.site.price_per_kwh : null;
    now.textContent = session.boost
      ? t('charge_now_off')
      : t('charge_now')(money(price), money((session.cost_yuan || 0) + (plan.charge_now_cost_yuan || 0)),
                        clockOf(plan.charge_now_finish));
    now.addEventListener('click', () => sendRequest(c, { boost: !session.boost }, null, now));
    box.append(now);
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
    planDetails(c, box);

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
    const mode = document.createElement('select');
    mode.name = 'mode';
    for (const value of ['energy', 'full']) {
      const option = el('option', '', t(`mode_${value}`));
      option.value = value;
      mode.append(option);
    }
    field(t('mode'), mode);
    const energyInput = field(t('energy_need'), input('number', 'energy_kwh',
      typeof session.requested_kwh === 'number' ? String(Math.round(session.requested_kwh)) : '',
      { min: '1', max: '200', step: '1', inputMode: 'numeric' }));
    mode.addEventListener('change', () => { energyInput.closest('label').hidden = mode.value === 'full'; });
    field(t('not_before'), input('time', 'not_before', clockOf(session.not_before)));
    if (c.kind === 'shared' && me.role !== 'resident') field(t('household_claim'), input('text', 'household', session.household || ''));
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

  // "Full by departure" asks for what the pile can give until then, at most FULL_KWH: the car
  // stops drawing when its battery is full, and the gateway gives the headroom to the others.
  const FULL_KWH = 100;
  function fullByKwh(c, departure) {
    const now = lastStatus && wallSeconds(lastStatus.time);
    const [h, m] = departure.split(':').map(Number);
    if (now === null || !(c.max_kw > 0) || Number.isNaN(h)) return FULL_KWH;
    let until = Math.floor(now / 86400) * 86400 + h * 3600 + m * 60;
    if (until <= now) until += 86400;
    return Math.max(1, Math.min(FULL_KWH, Math.floor((c.max_kw * (until - now)) / 3600)));
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
    if (data.get('mode') === 'full' && body.departure) body.energy_kwh = fullByKwh(c, body.departure);
    if (c.kind === 'shared' && data.get('household')) body.household = data.get('household');
    if (body.departure === null) delete body.departure;
    await sendRequest(c, body, [noteKey, status], button);
  }

  // PUT the request; `note` = [key, element] shows how it went under the form.
  async function sendRequest(c, body, note, button) {
    const [noteKey, status] = note || [`${c.id}|${(c.session && c.session.id) || ''}`, null];
    if (status) { status.className = 'save-note'; status.textContent = t('saving'); }
    let result;
    try {
      const response = await fetch(`/api/v1/chargers/${encodeURIComponent(c.id)}/request`, {
        method: 'PUT', headers: writeHeaders(), body: JSON.stringify(body),
      });
      const answer = await response.json().catch(() => ({}));
      result = response.ok ? ['ok', t('saved')] : ['bad', t('save_failed') + (answer.error || response.status)];
    } catch (e) {
      result = ['bad', t('save_failed') + t('no_data')];
    }
    button.disabled = false;
    saveNotes.set(noteKey, result);
    if (status) { status.className = `save-note save-${result[0]}`; status.textContent = result[1]; }
    // Saved: the next status push shows the new plan. Refused: keep the form for correction.
    if (result[0] === 'ok') editing.delete(c.id);
    else if (!status) render(lastStatus);
    return result[0] === 'ok';
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
    if (me.role === 'resident') return;  // the operator's figures; a resident has their history
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
    if (me.role === 'resident') { loadMyHistory(false); renderQrPile(); }
  }

  // ---- resident: my sessions this month, and the shared pile a QR code opened ------------------

  let historyMonth = '';
  let myHistory = null;   // {sessions, rows} of historyMonth

  async function loadMyHistory(force) {
    const q = lastStatus && kpiQuery('this_month', lastStatus.time);
    if (!q || (!force && q.month === historyMonth)) return;
    historyMonth = q.month;
    try {
      const [sessions, statement] = await Promise.all([
        fetch(`/api/v1/sessions?${q.query}`, { cache: 'no-store' }).then((r) => (r.ok ? r.json() : null)),
        fetch(`/api/v1/statements/${q.month}.json`, { cache: 'no-store' }).then((r) => (r.ok ? r.json() : null)),
      ]);
      myHistory = { sessions: (sessions && sessions.sessions) || [], rows: (statement && statement.rows) || [] };
    } catch (e) {
      myHistory = null;
    }
    renderMyHistory();
  }

  function renderMyHistory() {
    const sessions = myHistory ? myHistory.sessions.filter((x) => x.ended_at) : [];
    const rows = myHistory ? myHistory.rows : [];
    const total = rows.reduce((sum, r) => ({ n: sum.n + (r.sessions || 0), kwh: sum.kwh + (r.energy_kwh || 0),
                                             yuan: sum.yuan + (r.cost_yuan || 0) }), { n: 0, kwh: 0, yuan: 0 });
    setText('my-month', rows.length ? t('month_total')(total.n, num(total.kwh, 1), money(total.yuan))
                                    : t('my_history_empty'));
    $('my-history').replaceChildren(...sessions.slice(-10).reverse().map((x) => {
      const k = siteClock(x.started_at);
      const li = el('li', 'my-session', t('history_row')(k ? `${k.date.slice(5)} ${k.time}` : '—', x.charger || '',
                                                      num(x.energy_kwh, 1), money(x.cost_yuan)));
      li.dataset.session = x.id || '';
      return li;
    }));
    const link = $('my-statement');
    link.hidden = !rows.length;
    link.href = `/api/v1/statements/${historyMonth}.csv`;
    link.textContent = t('statement')(historyMonth);
  }

  let qrPile = '';          // the pile id of a #pile= link (the QR code on a shared pile)
  let qrSession;            // undefined: not asked yet; null: no car; else the open session

  async function loadQrPile() {
    if (!qrPile) return;
    try {
      const response = await fetch(`/api/v1/chargers/${encodeURIComponent(qrPile)}/session`, { cache: 'no-store' });
      const answer = await response.json().catch(() => ({}));
      qrSession = response.ok ? answer.session : { taken: true, error: answer.error || String(response.status) };
    } catch (e) {
      qrSession = { taken: true, error: t('no_data') };
    }
    renderQrPile();
  }

  // Shown until the pile is in my status (claimed by my household): then its card says the rest.
  function renderQrPile() {
    const card = $('qr-pile');
    const mine = lastStatus && Array.isArray(lastStatus.chargers) &&
      lastStatus.chargers.some((c) => c && c.id === qrPile && c.session);
    card.hidden = !qrPile || qrSession === undefined || Boolean(mine);
    if (card.hidden) return;
    setText('qr-title', t('qr_title')(qrPile));
    const form = $('qr-form');
    const note = $('qr-note');
    if (qrSession === null || (qrSession && qrSession.taken)) {
      form.hidden = true;
      $('qr-retry').hidden = false;
      note.className = 'save-note save-bad';
      note.textContent = qrSession === null ? t('qr_plug_first') : `${t('qr_taken')} (${qrSession.error})`;
      return;
    }
    $('qr-retry').hidden = true;
    form.hidden = false;
    if (!form.elements.departure.value) form.elements.departure.value = clockOf(qrSession.departure);
    if (!form.elements.energy_kwh.value && typeof qrSession.requested_kwh === 'number') {
      form.elements.energy_kwh.value = String(Math.round(qrSession.requested_kwh));
    }
  }

  $('qr-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    const form = event.target;
    const note = $('qr-note');
    const button = form.querySelector('button');
    // The gateway bills the session to the caller's household: the claim needs no household field.
    const ok = await sendRequest({ id: qrPile, session: qrSession },
                                 { departure: form.elements.departure.value, energy_kwh: Number(form.elements.energy_kwh.value) },
                                 [`qr|${qrPile}`, note], button);
    if (ok) { note.textContent = t('qr_started'); poll(); }
  });
  $('qr-retry').addEventListener('click', () => loadQrPile());
  // A QR code scanned while the page is open changes only the hash: no reload, no signIn().
  window.addEventListener('hashchange', () => {
    const pile = new URLSearchParams(location.hash.slice(1)).get('pile');
    if (!pile) return;
    history.replaceState(null, '', location.pathname + location.search);
    qrPile = pile;
    qrSession = undefined;
    if (me.role === 'resident') loadQrPile();
  });

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
  let me = { role: '', household: '' };

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
    me = { role: answer.role || '', household: answer.household || '' };
    document.body.dataset.role = me.role;
    $('my-history-card').hidden = me.role !== 'resident';
    if (me.role === 'resident') { historyMonth = ''; loadMyHistory(true); loadQrPile(); }
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
    qrPile = hash.get('pile') || '';
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
