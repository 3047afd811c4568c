// The live page in a real headless chromium, served by the real server: proves the JavaScript
// ran, fetched the API / WebSocket and rendered the fake gateway's values.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <optional>
#include <vector>

#include <nlohmann/json.hpp>

#include "fake_application.hpp"
#include "orderly/test/support.hpp"

namespace orderly::web {
namespace {

using orderly::test::kChromium;
using orderly::test::run_chromium;

// Screenshots are also kept for a human to look at when ORDERLY_WEB_SCREENSHOT_DIR is set.
void keep_copy(const std::filesystem::path& png) {
  if (const char* keep = std::getenv("ORDERLY_WEB_SCREENSHOT_DIR")) {
    std::filesystem::copy_file(png, std::filesystem::path(keep) / png.filename(),
                               std::filesystem::copy_options::overwrite_existing);
  }
}

class PageE2E : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(std::filesystem::exists(kChromium)) << "install chromium (setup.sh)"; }
  orderly::test::TempDir dir_;
};

TEST_F(PageE2E, RendersStatusFromTheApiInChinese) {
  test::RunningServer server(test::test_options());
  const auto run = run_chromium(dir_, "--dump-dom", server.page_url("/"));
  ASSERT_EQ(run.exit_code, 0) << orderly::test::read_file(dir_ / "chromium-stderr.txt");
  const std::string& dom = run.out;
  EXPECT_NE(dom.find(R"(id="site-name" data-i18n="site_unknown">幸福里小区 1# 台区<)"), std::string::npos)
      << dom;
  EXPECT_NE(dom.find(R"(id="load-kw" class="big">320.5<)"), std::string::npos) << dom;
  EXPECT_NE(dom.find(R"(id="load-pct" class="pct">80%<)"), std::string::npos) << dom;
  EXPECT_NE(dom.find(R"(data-charger="c01")"), std::string::npos) << dom;
  EXPECT_NE(dom.find(R"(class="state-text">充电中<)"), std::string::npos) << dom;
  EXPECT_NE(dom.find(R"(class="badge badge-offline">离线<)"), std::string::npos) << dom;
  EXPECT_NE(dom.find(R"(class="tariff tariff-peak")"), std::string::npos) << dom;
  EXPECT_NE(dom.find(R"(id="offline-count" class="offline-count">⚠ 1 台设备离线<)"), std::string::npos) << dom;
  // The footer names the WebSocket as the source only once a push arrived over it.
  EXPECT_NE(dom.find(R"(id="source">· 实时推送<)"), std::string::npos) << dom;
}

TEST_F(PageE2E, EnglishViaUrlAndOverloadMarking) {
  auto status = test::example_status();
  status["site"]["load_kw"] = 388.8;
  status["chargers"][0]["state"] = "finished";
  test::RunningServer server(test::test_options(), status);
  const auto run = run_chromium(dir_, "--dump-dom", server.page_url("/?lang=en"));
  ASSERT_EQ(run.exit_code, 0) << orderly::test::read_file(dir_ / "chromium-stderr.txt");
  EXPECT_NE(run.out.find(R"(<html lang="en")"), std::string::npos) << run.out;
  EXPECT_NE(run.out.find(R"(id="load-kw" class="big">388.8<)"), std::string::npos) << run.out;
  EXPECT_NE(run.out.find(R"(class="state-text">Full<)"), std::string::npos) << run.out;
  EXPECT_NE(run.out.find(R"(class="bar over")"), std::string::npos) << run.out;  // 97 %
}

TEST_F(PageE2E, EmptySiteShowsNoDataStates) {
  const nlohmann::json empty = {{"time", "2026-01-05T03:00:00+08:00"},
                                {"site", {{"name", "空台区"}, {"transformer_limit_kw", 400}}},
                                {"history", nlohmann::json::array()},
                                {"chargers", nlohmann::json::array()},
                                {"devices_offline", 0}};
  test::RunningServer server(test::test_options(), empty);
  const auto run = run_chromium(dir_, "--dump-dom", server.page_url("/"));
  ASSERT_EQ(run.exit_code, 0);
  EXPECT_NE(run.out.find(R"(空台区<)"), std::string::npos) << run.out;
  EXPECT_NE(run.out.find(R"(id="chargers-empty" class="empty" data-i18n="no_chargers">暂无充电桩<)"),
            std::string::npos) << run.out;
  EXPECT_NE(run.out.find(R"(id="history-empty" class="empty" data-i18n="no_history">暂无历史数据<)"),
            std::string::npos) << run.out;
  EXPECT_NE(run.out.find(R"(id="load-kw" class="big">—<)"), std::string::npos) << run.out;
}

TEST_F(PageE2E, GatewayErrorShowsABannerNotABlankPage) {
  test::RunningServer server(test::test_options(),
                             {{"error", "status unavailable: store locked"}, {"path", "/api/v1/status"}});
  const auto run = run_chromium(dir_, "--dump-dom", server.page_url("/"));
  ASSERT_EQ(run.exit_code, 0);
  EXPECT_NE(run.out.find(R"(id="banner" class="banner" role="status" aria-live="polite">网关暂时无法提供数据：status unavailable: store locked<)"),
            std::string::npos) << run.out;
}

TEST_F(PageE2E, ResidentFormAndOperatorKpisFromTheApi) {
  test::RunningServer server(test::test_options());
  const auto run = run_chromium(dir_, "--dump-dom", server.page_url("/"));
  ASSERT_EQ(run.exit_code, 0) << orderly::test::read_file(dir_ / "chromium-stderr.txt");
  const std::string& dom = run.out;
  // c02 has a car plugged in: its card carries the plan answer and the request form, filled
  // from the status document's session.
  EXPECT_NE(dom.find(R"(<form class="request" data-charger="c02">)"), std::string::npos) << dom;
  EXPECT_NE(dom.find(R"(class="plan plan-ok">计划 23:00 开始充电，03:20 前充入 30.0 kWh，预计本次电费 ¥9.00<)"), std::string::npos) << dom;
  EXPECT_NE(dom.find(R"(name="departure" value="07:30")"), std::string::npos) << dom;
  EXPECT_NE(dom.find(R"(name="energy_kwh" value="30")"), std::string::npos) << dom;
  EXPECT_NE(dom.find(R"(class="tag request-source">按您的习惯估计<)"), std::string::npos) << dom;
  EXPECT_EQ(dom.find(R"(data-charger="c01"><span class="request-title")"), std::string::npos);  // no car, no form
  // The KPI panel, fetched from /api/v1/kpi, against the policy targets.
  EXPECT_NE(dom.find(R"(<dd class="kpi-met">72.4% (目标 60%) ✓ 达标</dd>)"), std::string::npos) << dom;
  EXPECT_NE(dom.find(R"(<dd class="kpi-met">86.1% (目标 80%) ✓ 达标</dd>)"), std::string::npos) << dom;
  EXPECT_NE(dom.find(R"(385.2 kW / 400 kW (于 01-03 19:41))"), std::string::npos) << dom;
  EXPECT_NE(dom.find(R"(<dd class="kpi-met">0</dd>)"), std::string::npos) << dom;
  EXPECT_NE(dom.find(R"(98/100 (98.0%))"), std::string::npos) << dom;
  EXPECT_NE(dom.find(R"(¥0.42 / ¥0.71/kWh · 节省 ¥358.01)"), std::string::npos) << dom;
  EXPECT_NE(dom.find(R"(href="/api/v1/statements/2026-01.csv" download="">下载 2026-01 月度结算单 (CSV)<)"),
            std::string::npos) << dom;
  // Demand response for the operator: the events from the status, with a way to cancel them.
  EXPECT_NE(dom.find(R"(<li class="dr-event dr-active" data-event="grid-1"><span class="dr-text">01-05 19:30 – 01-05 21:00 限 300 kW</span><span class="tag tag-warn">生效中</span><button class="dr-cancel" type="button">取消</button></li>)"),
            std::string::npos) << dom;
  EXPECT_NE(dom.find(R"(id="dr-empty" class="dr-empty" data-i18n="dr_none" hidden="")"), std::string::npos) << dom;
  bool asked_for_kpis = false;
  server.on_server_thread([&] {
    for (const auto& call : server.app.api_requests) {
      if (call.path == "/api/v1/kpi" && call.query.count("from") && call.query.at("from") == "2026-01-01") {
        asked_for_kpis = true;
      }
    }
  });
  EXPECT_TRUE(asked_for_kpis);
}

TEST_F(PageE2E, KpiPanelInEnglishAndWhenTheApiHasNone) {
  test::RunningServer server(test::test_options());
  server.on_server_thread([&] {
    server.app.api = [](const ApiRequest& request) {
      return ApiResponse{404, "application/json; charset=utf-8",
                         nlohmann::json{{"error", "no store"}, {"path", request.path}}.dump(), "", "", {}};
    };
  });
  const auto run = run_chromium(dir_, "--dump-dom", server.page_url("/?lang=en"));
  ASSERT_EQ(run.exit_code, 0);
  EXPECT_NE(run.out.find(R"(id="kpi-empty" class="empty" data-i18n="kpi_waiting">No KPIs available<)"),
            std::string::npos) << run.out;
  EXPECT_NE(run.out.find(R"(>Download the 2026-01 statement (CSV)<)"), std::string::npos) << run.out;
  EXPECT_NE(run.out.find(R"(class="plan plan-ok">Planned: starts 23:00, 30.0 kWh by 03:20, about ¥9.00 for this session<)"), std::string::npos)
      << run.out;
}

TEST_F(PageE2E, InfeasiblePlanIsSaidPlainly) {
  auto status = test::example_status();
  status["chargers"][1]["session"]["plan"]["feasible"] = false;
  status["chargers"][1]["session"]["plan"]["note"] = "需 30 kWh，出发前最多 21 kWh";
  test::RunningServer server(test::test_options(), status);
  const auto run = run_chromium(dir_, "--dump-dom", server.page_url("/"));
  ASSERT_EQ(run.exit_code, 0);
  EXPECT_NE(run.out.find(R"(class="plan plan-bad">出发前无法充满：需 30 kWh，出发前最多 21 kWh<)"), std::string::npos)
      << run.out;
}

TEST_F(PageE2E, AlarmsAreShownWithTheirStateAndTheGatewaysWords) {
  auto status = test::example_status();
  status["alarms"] = nlohmann::json::array(
      {{{"id", "control:load"}, {"state", "failsafe"}, {"level", "error"}, {"reason", "stale"},
        {"message", "meter tm silent for 912 s; no headroom"}, {"meter", "tm"}, {"node", "transformer"},
        {"piles", nlohmann::json::array()}, {"since", "2026-01-05T20:00:11+08:00"}}});
  test::RunningServer server(test::test_options(), status);
  const auto run = run_chromium(dir_, "--dump-dom", server.page_url("/"));
  ASSERT_EQ(run.exit_code, 0);
  EXPECT_NE(run.out.find(R"(<li class="alarm alarm-error" data-alarm="control:load"><strong>⚠ 失效保护：全部暂停充电 (control:load) </strong><span>meter tm silent for 912 s; no headroom</span></li>)"),
            std::string::npos)
      << run.out;
  // No alarms: nothing shown.
  test::RunningServer quiet(test::test_options(), test::example_status());
  const auto calm = run_chromium(dir_, "--dump-dom", quiet.url("/"));
  ASSERT_EQ(calm.exit_code, 0);
  EXPECT_NE(calm.out.find(R"(<ul id="alarms" class="warning alarms" hidden="")"), std::string::npos) << calm.out;
}

// The shipped page with one extra script that types and clicks as a person would, served by a
// real server; returns the dumped DOM. The script waits for what it needs to appear.
class ScriptedPage {
 public:
  ScriptedPage(const orderly::test::TempDir& dir, const std::string& script) : dir_(dir) {
    const auto static_dir = dir / "static";
    std::filesystem::copy(orderly::test::web_assets_dir(), static_dir);
    std::string page = orderly::test::read_file(static_dir / "index.html");
    const std::string app = R"(<script src="app.js" defer></script>)";
    page.replace(page.find(app), app.size(), app + R"(<script src="e2e.js" defer></script>)");
    orderly::test::write_file(static_dir / "e2e.html", page);
    orderly::test::write_file(static_dir / "e2e.js", script);
    auto options = test::test_options();
    options.static_dir = static_dir;
    server.emplace(options);
  }
  std::string run() {
    const auto result = run_chromium(dir_, "--dump-dom", server->page_url("/e2e.html"));
    EXPECT_EQ(result.exit_code, 0) << orderly::test::read_file(dir_ / "chromium-stderr.txt");
    return result.out;
  }
  std::vector<ApiRequest> calls(const std::string& method) {
    std::vector<ApiRequest> out;
    server->on_server_thread([&] {
      for (const auto& call : server->app.api_requests) {
        if (call.method == method) out.push_back(call);
      }
    });
    return out;
  }
  std::optional<test::RunningServer> server;

 private:
  const orderly::test::TempDir& dir_;
};

TEST_F(PageE2E, SavingTheFormSendsTheRequest) {
  ScriptedPage page(dir_, R"((function () {
  function fill() {
    const form = document.querySelector('form.request[data-charger="c02"]');
    if (!form) { setTimeout(fill, 50); return; }
    form.elements.departure.focus();
    form.elements.departure.value = '06:45';
    form.elements.departure.dispatchEvent(new Event('input', { bubbles: true }));
    form.elements.energy_kwh.value = '25';
    form.elements.boost.checked = true;
    form.querySelector('button.save').click();
  }
  fill();
})();
)");
  const std::string dom = page.run();
  EXPECT_NE(dom.find(R"(class="save-note save-ok" role="status">已保存<)"), std::string::npos) << dom;
  const auto puts = page.calls("PUT");
  ASSERT_EQ(puts.size(), 1u);
  EXPECT_EQ(puts[0].path, "/api/v1/chargers/c02/request");
  const auto body = nlohmann::json::parse(puts[0].body);
  EXPECT_EQ(body, nlohmann::json({{"departure", "06:45"}, {"energy_kwh", 25}, {"boost", true}, {"not_before", nullptr}}))
      << puts[0].body;
}

TEST_F(PageE2E, OperatorAddsAndCancelsADemandResponseEvent) {
  ScriptedPage page(dir_, R"((function () {
  const note = () => document.getElementById('dr-note').textContent;
  function add() {
    if (!document.querySelector('li[data-event="grid-1"]')) { setTimeout(add, 50); return; }
    const form = document.getElementById('dr-form');
    form.elements.start.value = '2026-01-06T18:00';
    form.elements.end.value = '2026-01-06T20:30';
    form.elements.limit_kw.value = '320';
    form.querySelector('button').click();
    cancel();
  }
  function cancel() {
    if (note() !== '已添加') { setTimeout(cancel, 50); return; }
    document.querySelector('li[data-event="grid-1"] button.dr-cancel').click();
  }
  add();
})();
)");
  const std::string dom = page.run();
  EXPECT_NE(dom.find(R"(id="dr-note" class="save-note save-ok" role="status">已取消<)"), std::string::npos) << dom;
  const auto posts = page.calls("POST");
  ASSERT_EQ(posts.size(), 1u);
  EXPECT_EQ(posts[0].path, "/api/v1/dr-events");
  EXPECT_EQ(nlohmann::json::parse(posts[0].body),
            nlohmann::json({{"start", "2026-01-06T18:00"}, {"end", "2026-01-06T20:30"}, {"limit_kw", 320}}));
  const auto deletes = page.calls("DELETE");
  ASSERT_EQ(deletes.size(), 1u);
  EXPECT_EQ(deletes[0].path, "/api/v1/dr-events/grid-1");
}

TEST_F(PageE2E, ScreenshotsAtPhoneAndDesktopWidth) {
  test::RunningServer server(test::test_options());
  struct Shot {
    const char* name;
    const char* size;
    const char* path;
  };
  for (const auto& [name, size, path] : {Shot{"orderly-web-phone.png", "390,844", "/"},
                                         Shot{"orderly-web-phone-en.png", "390,844", "/?lang=en"},
                                         Shot{"orderly-web-desktop.png", "1280,900", "/"},
                                         // the whole page: charger forms and the KPI panel below the fold
                                         Shot{"orderly-web-phone-full.png", "390,2200", "/"}}) {
    const auto png = dir_ / name;
    const auto run = run_chromium(dir_, "--screenshot=" + png.string() + " --window-size=" + size +
                                            " --hide-scrollbars",
                                  server.page_url(path));
    ASSERT_EQ(run.exit_code, 0) << orderly::test::read_file(dir_ / "chromium-stderr.txt");
    ASSERT_TRUE(std::filesystem::exists(png)) << name;
    // A blank page compresses to a few hundred bytes; the rendered page is tens of KiB.
    EXPECT_GT(std::filesystem::file_size(png), 20000u) << name;
    const std::string head = orderly::test::read_file(png).substr(0, 8);
    EXPECT_EQ(head, "\x89PNG\r\n\x1a\n") << name;
    keep_copy(png);
  }
}

}  // namespace
}  // namespace orderly::web
