// The live page in a real headless chromium, served by the real server: proves the JavaScript
// ran, fetched the API / WebSocket and rendered the fake gateway's values.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>

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
  const auto run = run_chromium(dir_, "--dump-dom", server.url("/"));
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
  const auto run = run_chromium(dir_, "--dump-dom", server.url("/?lang=en"));
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
  const auto run = run_chromium(dir_, "--dump-dom", server.url("/"));
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
  const auto run = run_chromium(dir_, "--dump-dom", server.url("/"));
  ASSERT_EQ(run.exit_code, 0);
  EXPECT_NE(run.out.find(R"(id="banner" class="banner" role="status" aria-live="polite">网关暂时无法提供数据：status unavailable: store locked<)"),
            std::string::npos) << run.out;
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
                                         Shot{"orderly-web-desktop.png", "1280,900", "/"}}) {
    const auto png = dir_ / name;
    const auto run = run_chromium(dir_, "--screenshot=" + png.string() + " --window-size=" + size +
                                            " --hide-scrollbars",
                                  server.url(path));
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
